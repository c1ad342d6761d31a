# The critical LR during training: the lr of the post-step spread's minimum (measured on the grid, and
# predicted with the collapse) over 1/sqrt(e_max e_min), per model and kept step; seeds side by side.
# Variables: d (crit-<model>.dat "step+1 critical meas/crit kappa/crit"), out.
load dir."/common.gp"
set output out
set logscale xy
set format x "%g"
set format y "%g"
set xlabel "step + 1 (seeds offset)"
set ylabel "lr of the spread's minimum / (1/sqrt(e_max e_min))"
set title "Critical LR during training (runs at lr 0.1, momentum 0.9)\nfilled: measured minimum; open circles: collapse model"
set key bottom left
set xrange [0.7:200]
set yrange [0.02:4]
plot d."/crit-plain-20.dat" u 1:3 w p ls 2 t "plain-20 measured", \
     d."/crit-plain-20.dat" u 1:4 w p ls 2 pt 6 t "plain-20 kappa model", \
     d."/crit-plain-50.dat" u 1:3 w p ls 4 t "plain-50 measured", \
     d."/crit-plain-50.dat" u 1:4 w p ls 4 pt 6 t "plain-50 kappa model", \
     d."/crit-resnet-noshort-56.dat" u 1:3 w p ls 3 t "resnet-noshort-56 measured", \
     d."/crit-resnet-noshort-56.dat" u 1:4 w p ls 3 pt 6 t "resnet-noshort-56 kappa model", \
     1 w l lc rgb "black" dt 3 t "1/sqrt(e_max e_min)"
