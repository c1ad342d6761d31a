#!/usr/bin/env bash
# Builds the figures of docs/experiments.md from the outputs of scripts/experiments.sh.
# Usage: scripts/plots/make-figures.sh OUT_DIR FIG_DIR   (needs gnuplot and awk; skips missing inputs)
# FIGFMT=png writes PNG instead of SVG (the reports' own plots are copied in the same format).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OUT=$1; FIG=$2
ext=${FIGFMT:-svg}
mkdir -p "$FIG"
data=$(mktemp -d); trap 'rm -rf "$data"' EXIT
gp() { gnuplot -e "dir='$here'; fmt='$ext'" "$@"; }
csv() { awk -F, -f "$here/csvcols.awk" "$@"; }
js() { awk -f "$here/metrics2dat.awk" "$@"; }
copy_report() { [ -f "$1" ] && cp "$1" "$FIG/$2" || echo "missing $1" >&2; }

if [ -f "$OUT/explode-plain/explode_layers.csv" ] && [ -f "$OUT/explode-resnet/explode_layers.csv" ]; then
  csv -v cols=depth,index,e "$OUT/explode-plain/explode_layers.csv" > "$data/plain.dat"
  csv -v cols=depth,index,e "$OUT/explode-resnet/explode_layers.csv" > "$data/resnet.dat"
  gp -e "d='$data'; out='$FIG/check1-explode.$ext'" "$here/explode.gp"
fi

run2="$OUT/p20-lr0.1"
if [ -f "$run2/layers.csv" ]; then
  awk -F, -v mode=steps -f "$here/layer-dynamics.awk" "$run2/layers.csv" > "$data/dyn.dat"
  awk -F, -v mode=slopes -f "$here/layer-dynamics.awk" "$run2/layers.csv" > "$OUT/check2-slopes.txt"
  gp -e "d='$data'; out='$FIG/check2-inv-elr2.$ext'; lr='0.1'" "$here/inv-elr2.gp"
  copy_report "$run2/report/spread.$ext" check2-spread.$ext
  copy_report "$run2/report/elr.$ext" check2-elr.$ext
fi

run3="$OUT/plain50/points/lr1_d50_m0_none_s0"
if [ -f "$run3/layers.csv" ]; then
  awk -F, -v mode=step1 -f "$here/layer-dynamics.awk" "$run3/layers.csv" > "$data/step1.dat"
  cp "$data/step1.dat" "$OUT/check3-step1.txt"
  gp -e "d='$data'; out='$FIG/check3-step1.$ext'; run='plain-50 (width 8), lr 1.0, momentum 0: the first step'" "$here/step1.gp"
  copy_report "$run3/report/ode.$ext" check3-ode.$ext
fi

sw4="$OUT/lr-sweep"
if [ -f "$sw4/table.csv" ]; then
  for dep in 20 50; do
    csv -v cols=lr,spread_step_0,spread_step_1 -v where=depth=$dep "$sw4/table.csv" > "$data/meas$dep.dat"
    p="$sw4/points/lr0.1_d${dep}_m0_none_s0"
    awk -F, -v lo=1e-3 -v hi=300 -f "$here/predict-spread.awk" "$p/layers.csv" > "$data/pred$dep.dat"
    js -v keys="critical_lr" "$p/metrics.jsonl" | sed -n 2p > "$data/crit$dep"
  done
  gp -e "d='$data'; out='$FIG/check4-spread-vs-lr.$ext'; crit20=$(cat "$data/crit20"); crit50=$(cat "$data/crit50")" \
     "$here/spread-vs-lr.gp"
fi

if [ -d "$OUT/depth-momentum/points" ] && [ -d "$OUT/depth-warmup/points" ]; then
  for dep in 10 20 50; do
    js -v keys="step spread" "$OUT/depth-momentum/points/lr1_d${dep}_m0_none_s0/metrics.jsonl" > "$data/s${dep}_m0.dat"
    js -v keys="step spread" "$OUT/depth-momentum/points/lr1_d${dep}_m0.9_none_s0/metrics.jsonl" > "$data/s${dep}_m0.9.dat"
    js -v keys="step spread" "$OUT/depth-warmup/points/lr1_d${dep}_m0_none_s0/metrics.jsonl" > "$data/s${dep}_warmup10.dat"
    m="$OUT/depth-momentum-lr0.1/points/lr0.1_d${dep}_m0.9_none_s0/metrics.jsonl"
    if [ -f "$m" ]; then js -v keys="step spread" "$m"; else echo "# missing"; fi > "$data/s${dep}_m0.9lr0.1.dat"
  done
  gp -e "d='$data'; out='$FIG/check5-depth-momentum-warmup.$ext'" "$here/depth-steps.gp"
fi

copy_report "$OUT/acc-sweep/report/accuracy.$ext" check6-accuracy.$ext

if [ -d "$OUT/plain50/points" ]; then
  for c in none critical-warmup uniform-elr; do
    js -v keys="step spread lr loss elr_min elr_max" "$OUT/plain50/points/lr1_d50_m0_${c}_s0/metrics.jsonl" > "$data/$c.dat"
  done
  u2="$OUT/plain50-uniform-0.02/metrics.jsonl"
  if [ -f "$u2" ]; then js -v keys="step spread lr loss elr_min elr_max" "$u2"; else echo "# missing"; fi > "$data/uniform-0.02.dat"
  gp -e "d='$data'; out='$FIG/check7-controls.$ext'" "$here/controls.gp"
fi
ls -l "$FIG"
