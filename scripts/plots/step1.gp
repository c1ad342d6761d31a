# Check 3: ELR before and after the first large-lr step, per layer, with the model's prediction.
# Variables: d (folder with step1.dat from layer-dynamics.awk mode=step1), out, run (title text).
w = 980; h = 420
load dir."/common.gp"
set output out
set multiplot layout 1,2 title run
set logscale y
set format y "%g"
set xlabel "scale-invariant layer index (0 = input side)"
set key top right
set title "|W|^2 jump of the first step"
set ylabel "|W_1|^2 / |W_0|^2"
plot d."/step1.dat" u 1:6 w p ls 1 t "measured", "" u 1:7 w l ls 4 t "model 1 + E_0^2"
set title "ELR before and after the first step"
set ylabel "ELR (rad/step)"
plot d."/step1.dat" u 1:2 w lp ls 2 t "ELR_0 (step 0)", "" u 1:3 w p ls 1 t "ELR_1 measured", \
     "" u 1:4 w l ls 4 t "model E_0/(1+E_0^2)", "" u 1:5 w l ls 3 dt 2 t "1/E_0"
unset multiplot
