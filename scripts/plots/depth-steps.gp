# Check 5: spread against step for plain depths 10/20/50: lr 1 without momentum, lr 1 with momentum
# 0.9, lr 0.1 with momentum 0.9, and a 10-step linear warm-up to lr 1.
# Variables: d (folder with s<depth>_<variant>.dat "step spread"), out.
w = 1000; h = 760
load dir."/common.gp"
set output out
set multiplot layout 2,2 title "plain nets (width 8), Fashion-MNIST, batch 128: ELR spread over the first 10 steps"
set logscale y
set format y "%g"
set yrange [1:1e6]
set xlabel "step"
set ylabel "spread (max ELR / min ELR)"
set key top right
do for [v in "m0 m0.9 m0.9lr0.1 warmup10"] {
  set title (v eq "m0" ? "constant lr 1.0, momentum 0" : (v eq "m0.9" ? "constant lr 1.0, momentum 0.9" : \
            (v eq "m0.9lr0.1" ? "constant lr 0.1, momentum 0.9" : "linear warm-up to lr 1.0 over 10 steps, momentum 0")))
  plot d."/s10_".v.".dat" u 1:2 w lp ls 1 t "depth 10", d."/s20_".v.".dat" u 1:2 w lp ls 2 t "depth 20", \
       d."/s50_".v.".dat" u 1:2 w lp ls 4 t "depth 50"
}
unset multiplot
