# The collapse of the base gradient: kappa = c_1 / c_0 of every probed layer against its ELR E_0, and
# the fitted law. Variables: d (kappa-<model>.dat "E0 kappa"), scale, power, out.
load dir."/common.gp"
set output out
set logscale xy
set format x "%g"
set format y "%g"
set xlabel "the step's ELR E_0 = lr |g_0| / |W_0| (rad)"
set ylabel "kappa = c_1 / c_0 (same batch)"
set title sprintf("Base gradient c = |g| |W| after one plain-SGD step from step 0\nline: kappa(E) = (1 + (E/%.3g)^2)^(-%.3g/2), fitted on all", scale, power)
set key bottom left
law(x) = (1 + (x / scale)**2)**(-power / 2)
plot d."/kappa-plain-20.dat" u 1:2 w p ls 2 ps 0.3 t "plain-20", \
     d."/kappa-plain-50.dat" u 1:2 w p ls 4 ps 0.3 t "plain-50", \
     d."/kappa-resnet-noshort-56.dat" u 1:2 w p ls 3 ps 0.3 t "resnet-noshort-56", \
     law(x) w l lc rgb "black" lw 2 t "fitted law"
