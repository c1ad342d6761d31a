# Check 2: growth of 1/ELR^2 per layer under a small constant lr, against the model's 2 per step.
# Variables: d (folder with dyn.dat from layer-dynamics.awk mode=steps), out, lr.
w = 980; h = 420
load dir."/common.gp"
set output out
set multiplot layout 1,2 title sprintf("plain-20 (width 8), lr %s, no momentum, Fashion-MNIST: growth of 1/ELR^2 per scale-invariant layer", lr)
set xlabel "step"
set cblabel "layer index (0 = input side)"
set palette defined (0 "#1f3fbf", 0.5 "#2ca02c", 1 "#d62728")
set key top left
set title "measured ELR = lr |g_t|/|W_t| (solid) vs model 1/ELR_0^2 + 2 t (dashed)"
unset key
set logscale y
set format y "%g"
set ylabel "1/ELR^2 (1/rad^2)"
plot d."/dyn.dat" u 1:5:2 w l lw 1.2 palette notitle, "" u 1:6:2 w l lw 2 dt 2 palette notitle
unset logscale y
set key top left
set ylabel "1/E^2 - 1/E_0^2 (1/rad^2)"
set title "norms only: E = lr c_0 / |W_t|^2, c_0 = |g_0||W_0|"
plot d."/dyn.dat" u 1:4:2 w l lw 1.5 palette notitle, 2*x w l lc rgb "black" lw 3 dt 2 t "model: 2 per step"
unset multiplot
