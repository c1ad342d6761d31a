# The post-step spread against lr / critical lr at step 0: measured, the constant-c model and the model
# with the collapse. Variables: d (spread-<model>.dat "lr/crit measured model kappa"), out.
load dir."/common.gp"
set output out
set logscale xy
set format x "%g"
set format y "%g"
set xlabel "lr / lr*  (lr* = 1/sqrt(e_max e_min) of the first batch)"
set ylabel "spread after one step (max ELR / min ELR)"
set title "Spread after one plain-SGD step vs lr (step 0, seed 0, 4 batches)"
set key top left
plot d."/spread-plain-20.dat" u 1:2 w lp ls 2 t "plain-20 measured", \
     d."/spread-plain-20.dat" u 1:3 w l ls 2 dt 3 lw 1.5 t "plain-20 constant c", \
     d."/spread-plain-20.dat" u 1:4 w l ls 2 dt 2 lw 1.5 t "plain-20 with collapse", \
     d."/spread-plain-50.dat" u 1:2 w lp ls 4 t "plain-50 measured", \
     d."/spread-plain-50.dat" u 1:3 w l ls 4 dt 3 lw 1.5 t "plain-50 constant c", \
     d."/spread-plain-50.dat" u 1:4 w l ls 4 dt 2 lw 1.5 t "plain-50 with collapse"
