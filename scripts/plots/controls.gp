# Check 7: plain-50 at lr 1.0 without momentum: spread, extreme ELRs and loss against step for the
# lr controls. Variables: d (folder with none.dat, critical-warmup.dat, uniform-elr.dat and
# uniform-0.02.dat: "step spread lr loss elr_min elr_max"), out.
w = 1150; h = 430
load dir."/common.gp"
set output out
set multiplot layout 1,3 title "plain-50 (width 8), lr 1.0, momentum 0, Fashion-MNIST, batch 128"
set xlabel "step"
set key top right
set logscale y
set format y "%g"
set title "ELR spread"
set yrange [0.5:3e5]
set ylabel "spread (max ELR / min ELR)"
plot d."/none.dat" u 1:2 w lp ls 4 t "constant", d."/critical-warmup.dat" u 1:2 w lp ls 1 t "critical-warmup", \
     d."/uniform-elr.dat" u 1:2 w l ls 3 lw 4 t "uniform-elr (both targets)"
set yrange [*:*]
set title "largest (dashed) and smallest (solid) layer ELR"
set ylabel "ELR (rad/step)"
set key bottom right
plot d."/none.dat" u 1:5 w l ls 4 t "constant", "" u 1:6 w l ls 4 dt 2 notitle, \
     d."/critical-warmup.dat" u 1:5 w l ls 1 t "critical-warmup", "" u 1:6 w l ls 1 dt 2 notitle, \
     d."/uniform-elr.dat" u 1:5 w l ls 3 t "uniform-elr, target 0.439", \
     d."/uniform-0.02.dat" u 1:5 w l ls 5 t "uniform-elr, target 0.02"
unset logscale y
set title "training loss (batch, before the update)"
set ylabel "cross-entropy (nats)"
set key top right
plot d."/none.dat" u 1:4 w l ls 4 t "constant", d."/critical-warmup.dat" u 1:4 w l ls 1 t "critical-warmup", \
     d."/uniform-elr.dat" u 1:4 w l ls 3 t "uniform-elr, 0.439", d."/uniform-0.02.dat" u 1:4 w l ls 5 t "uniform-elr, 0.02"
unset multiplot
