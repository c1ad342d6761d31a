# Prints the named keys of every line of a metrics.jsonl (flat JSON objects), whitespace-separated.
# Usage: awk -v keys="step spread lr" -f metrics2dat.awk RUN/metrics.jsonl   (null -> NaN)
BEGIN { n = split(keys, want, " "); line = "#"; for (k = 1; k <= n; k++) line = line " " want[k]; print line }
{
  line = ""
  for (k = 1; k <= n; k++) {
    v = "NaN"
    if (match($0, "\"" want[k] "\":[^,}]*")) { v = substr($0, RSTART + length(want[k]) + 3, RLENGTH - length(want[k]) - 3); if (v == "null") v = "NaN" }
    line = line (k > 1 ? " " : "") v
  }
  print line
}
