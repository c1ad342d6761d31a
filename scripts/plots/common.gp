# Shared terminal and style of the figures of docs/experiments.md (loaded by the other scripts).
# Callers set w and h (pixels); fmt = "png" gives PNG (pngcairo) instead of SVG.
if (!exists("w")) w = 720
if (!exists("h")) h = 440
if (exists("fmt") && fmt eq "png") {
  set terminal pngcairo size w,h noenhanced font "Helvetica,11" background "white"
} else {
  set terminal svg size w,h dynamic noenhanced font "Helvetica,13" background "white"
}
set grid lc rgb "#dddddd"
set key box opaque samplen 2
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 0.7
set style line 2 lc rgb "#ff7f0e" lw 2 pt 5 ps 0.7
set style line 3 lc rgb "#2ca02c" lw 2 pt 9 ps 0.8
set style line 4 lc rgb "#d62728" lw 2 pt 11 ps 0.8
set style line 5 lc rgb "#9467bd" lw 2 pt 13 ps 0.8
