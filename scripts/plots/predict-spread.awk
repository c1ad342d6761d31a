# The model's spread after one plain-SGD step at lr eta, from the step-0 rows of a run's layers.csv:
# per scale-invariant layer u = eta e_l, ELR_1 = u / (1 + u^2) (docs/science.md, critical LR);
# spread = max / min over the layers. Prints "eta spread" on a log grid from lo to hi.
# Usage: awk -F, -v lo=1e-3 -v hi=300 -f predict-spread.awk RUN/layers.csv
NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
$(c["step"]) == 0 && $(c["scale_invariant"]) == 1 { e[n++] = sqrt($(c["g2"]) / $(c["w2"])) }
END {
  print "# eta predicted_spread_step1"
  for (k = 0; k <= 200; k++) {
    eta = lo * exp(k / 200 * log(hi / lo)); mx = 0; mn = 1e300
    for (j = 0; j < n; j++) { u = eta * e[j]; r = u / (1 + u * u); if (r > mx) mx = r; if (r < mn) mn = r }
    print eta, mx / mn
  }
}
