# Check 1: e = |g|/|W| per scale-invariant layer at initialization, against the layer index.
# Variables: d (folder with plain.dat and resnet.dat: "depth index e" rows), out (SVG file).
load dir."/common.gp"
set output out
set logscale y
set format y "%g"
set xlabel "scale-invariant layer index (0 = input side)"
set ylabel "e = |g|/|W| at init (rad/step per unit lr)"
set title "Gradient explosion at initialization (Fashion-MNIST, width 8, batch 128, 2 seeds)"
set key top right
plot d."/plain.dat" u 2:($1==10?$3:NaN) w lp ls 1 t "plain-10", \
     ""             u 2:($1==20?$3:NaN) w lp ls 2 t "plain-20", \
     ""             u 2:($1==50?$3:NaN) w lp ls 4 t "plain-50", \
     d."/resnet.dat" u 2:($1==20?$3:NaN) w lp ls 3 dt 2 t "resnet-20", \
     ""              u 2:($1==56?$3:NaN) w lp ls 5 dt 2 t "resnet-56"
