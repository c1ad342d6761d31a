#!/usr/bin/env bash
# Builds the figures of docs/science.md from the outputs of scripts/science.sh.
# Usage: scripts/plots/science-figures.sh OUT_DIR FIG_DIR   (needs gnuplot and awk; skips missing inputs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OUT=$1; FIG=$2
ext=${FIGFMT:-svg}
mkdir -p "$FIG"
data=$(mktemp -d); trap 'rm -rf "$data"' EXIT
gp() { gnuplot -e "dir='$here'; fmt='$ext'" "$@"; }
csv() { awk -F, -f "$here/csvcols.awk" "$@"; }

groups="plain-20 plain-50 resnet-noshort-56"
if [ -f "$OUT/collapse/kappa_fit.csv" ]; then
  # kappa against the step's ELR, every probed layer of every run, per model; the fitted law.
  for g in $groups; do
    : > "$data/kappa-$g.dat"
    for f in "$OUT"/collapse/"$g"-s*/probe_layers.csv; do [ -f "$f" ] && csv -v cols=elr0,kappa "$f" | tail -n +2; done \
        >> "$data/kappa-$g.dat"
  done
  scale=$(awk -F, '$7 == 1 { print $4 }' "$OUT/collapse/kappa_fit.csv")
  power=$(awk -F, '$7 == 1 { print $5 }' "$OUT/collapse/kappa_fit.csv")
  gp -e "d='$data'; out='$FIG/science-kappa.$ext'; scale=$scale; power=$power" "$here/kappa.gp"
  # The post-step spread against lr / critical lr at step 0, seed 0: measured (mean of log over the
  # batches) and both models; the grid is built on the first batch's critical lr.
  for g in plain-20 plain-50; do
    f="$OUT/collapse/$g-s0/spread.csv"
    [ -f "$f" ] && awk -F, 'NR > 1 && $2 == 0 && !c0 { c0 = $4 } NR > 1 && $5 != "" { x = $3 / c0; k = sprintf("%.6g", x); n[k]++; m[k] += log($5);
        a[k] += log($6); b[k] += log($7) } END { for (k in n) print k, exp(m[k] / n[k]), exp(a[k] / n[k]), exp(b[k] / n[k]) }' \
        "$f" | sort -g > "$data/spread-$g.dat"
  done
  gp -e "d='$data'; out='$FIG/science-spread-vs-lr.$ext'" "$here/collapse-spread.gp"
fi

if [ -f "$OUT/critical/critical_summary.csv" ] && [ -f "$OUT/collapse/critical_summary.csv" ]; then
  # Per model and step (0 from the collapse probes, 10 and 100 from the critical ones): measured
  # minimum and collapse prediction over the critical LR, every seed.
  for g in $groups; do
    for f in "$OUT/collapse/critical_summary.csv" "$OUT/critical/critical_summary.csv"; do
      csv -v cols=step,critical_lr,lr_min_meas,lr_min_kappa,seed -v where=group=$g "$f" | tail -n +2
    done | awk '{ print ($1 + 1) * (1 + 0.06 * ($5 - 1)), $2, $3 / $2, $4 / $2 }' > "$data/crit-$g.dat"
  done
  gp -e "d='$data'; out='$FIG/science-critical.$ext'" "$here/critical.gp"
fi

if [ -f "$OUT/wd/layers.csv" ]; then
  awk -F, -v lr=0.5 -v wd=0.02 -v beta=0 -v mode=steps -f "$here/wd-equilibrium.awk" "$OUT/wd/layers.csv" > "$data/wd.dat"
  gp -e "d='$data'; out='$FIG/science-wd.$ext'; settle=300" "$here/wd.gp"
fi
