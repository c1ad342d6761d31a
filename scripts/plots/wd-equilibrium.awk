# The weight-decay equilibrium (docs/science.md): every scale-invariant layer's relative update
# |dW|/|W| against sqrt(2 lr wd / (1 + beta)), from a run's layers.csv.
# Usage: awk -F, -v lr=LR -v wd=WD -v beta=BETA [-v mode=table|steps] -f wd-equilibrium.awk layers.csv
#   table (default): per layer, the mean over the last quarter of the steps, its ratio to the
#     prediction, and the settling step (the first logged step from which every later one lies within
#     25% of the prediction); then the ELR spread (max/min over the layers) per quarter of the run.
#   steps: "step rel_update/prediction per layer" rows, for the figure.
NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
$col["scale_invariant"] != 1 { next }
{
  s = $col["step"] + 0; l = $col["layer"] + 0
  if (!(l in name)) { name[l] = $col["name"]; order[++layers] = l }
  if (!(s in seen)) { seen[s] = 1; steps[++nsteps] = s }
  rel[s, l] = $col["rel_update"]; elr[s, l] = $col["elr"]
  if (s > last) last = s
}
END {
  pred = sqrt(2 * lr * wd / (1 + beta))
  if (mode == "steps") {
    for (k = 1; k <= nsteps; ++k) {
      s = steps[k]; line = s
      for (j = 1; j <= layers; ++j) line = line " " rel[s, order[j]] / pred
      print line
    }
    exit
  }
  printf "prediction sqrt(2 lr wd / (1 + beta)) = %.4f; 3 / (lr wd) = %d steps; run: steps 0..%d\n", pred, 3 / (lr * wd), last
  printf "%-28s %10s %8s %8s\n", "layer", "mean", "ratio", "settled"
  from = last * 3 / 4
  for (j = 1; j <= layers; ++j) {
    l = order[j]; sum = 0; n = 0; settled = -1
    for (k = 1; k <= nsteps; ++k) {
      s = steps[k]; r = rel[s, l] / pred
      if (s >= from) { sum += rel[s, l]; ++n }
      if (r < 0.75 || r > 1.25) settled = -1; else if (settled < 0) settled = s
    }
    m = sum / n; all += m / pred; ++count
    if (settled < 0) out = "never"; else out = settled
    if (settled > worst || settled < 0) worst = settled < 0 ? 1e9 : settled
    printf "%-28s %10.4f %8.3f %8s\n", name[l], m, m / pred, out
  }
  printf "mean ratio over the layers %.3f; last layer to settle: %s\n", all / count, (worst >= 1e9 ? "never" : worst)
  for (q = 0; q < 4; ++q) {
    sum = 0; n = 0
    for (k = 1; k <= nsteps; ++k) {
      s = steps[k]; if (s < q * last / 4 || s >= (q + 1) * last / 4 + (q == 3)) continue
      lo = 1e300; hi = 0
      for (j = 1; j <= layers; ++j) { e = elr[s, order[j]] + 0; if (e > 0) { if (e < lo) lo = e; if (e > hi) hi = e } }
      if (hi > 0) { sum += log(hi / lo); ++n }
    }
    printf "ELR spread (geometric mean), steps %d..%d: %.3f\n", q * last / 4, (q + 1) * last / 4, n ? exp(sum / n) : 0
  }
}
