# The weight-decay equilibrium: every scale-invariant layer's |dW|/|W| over sqrt(2 lr wd / (1 + beta)).
# Variables: d (wd.dat "step ratio per layer"), settle (3 / (lr wd)), out.
load dir."/common.gp"
set output out
set logscale y
set format y "%g"
set xlabel "step"
set ylabel "|dW| / |W|  over  sqrt(2 lr wd / (1 + beta))"
set title "Weight decay 0.02, lr 0.5, no momentum (plain-10, width 8, batch 32): every conv layer"
set key off
set arrow 1 from settle, graph 0 to settle, graph 1 nohead lc rgb "black" dt 3 lw 2
cols = system("awk 'NR == 1 { print NF }' ".d."/wd.dat")
plot for [i = 2:cols] d."/wd.dat" u 1:i w l lw 1 lc rgb "#1f77b4", 1 w l lc rgb "black" lw 2
