# Prints the named columns of a CSV file (header row required), whitespace-separated.
# Usage: awk -F, -v cols="lr,depth,spread_step_1" [-v where="scale_invariant=1"] -f csvcols.awk FILE
# Empty cells are printed as NaN so gnuplot skips them.
NR == 1 {
  for (i = 1; i <= NF; i++) idx[$i] = i
  n = split(cols, want, ",")
  for (k = 1; k <= n; k++) if (!(want[k] in idx)) { print "no column " want[k] > "/dev/stderr"; exit 2 }
  if (where != "") { split(where, w, "="); wcol = idx[w[1]]; wval = w[2] }
  line = "#"; for (k = 1; k <= n; k++) line = line " " want[k]; print line
  next
}
{
  if (wcol && $wcol != wval) next
  line = ""
  for (k = 1; k <= n; k++) { v = $(idx[want[k]]); if (v == "" || v == "nan") v = "NaN"; line = line (k > 1 ? " " : "") v }
  print line
}
