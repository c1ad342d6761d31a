# Check 4: spread after the first step against the lr, measured and predicted, per depth.
# Variables: d (folder with meas<depth>.dat "lr spread0 spread1", pred20.dat, pred50.dat), crit20, crit50, out.
load dir."/common.gp"
set output out
set logscale xy
set format x "%g"
set format y "%g"
set xlabel "learning rate eta (plain SGD, first step)"
set ylabel "spread after step 1 (max ELR / min ELR)"
set title "Spread after one plain-SGD step vs lr (plain nets, width 8, Fashion-MNIST)\nvertical dotted lines: critical lr 1/sqrt(e_max e_min) at step 0"
set key top left
set arrow 1 from crit20, graph 0 to crit20, graph 1 nohead lc rgb "#ff7f0e" dt 3 lw 2
set arrow 2 from crit50, graph 0 to crit50, graph 1 nohead lc rgb "#d62728" dt 3 lw 2
plot d."/meas20.dat" u 1:3 w lp ls 2 t "plain-20 measured", \
     d."/pred20.dat" u 1:2 w l ls 2 dt 2 lw 1.5 t "plain-20 model", \
     d."/meas50.dat" u 1:3 w lp ls 4 t "plain-50 measured", \
     d."/pred50.dat" u 1:2 w l ls 4 dt 2 lw 1.5 t "plain-50 model", \
     d."/meas20.dat" u 1:2 w l ls 2 dt 3 lw 1 t "plain-20 at step 0", \
     d."/meas50.dat" u 1:2 w l ls 4 dt 3 lw 1 t "plain-50 at step 0"
