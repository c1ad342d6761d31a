#!/usr/bin/env bash
# Reruns every measurement of docs/science.md into one folder (about an hour on 2 busy cores).
# Usage: scripts/science.sh OUT_DIR [SECTION...]
#   SECTION: train (runs that keep their states before steps 0, 10, 100), collapse (kappa from the
#   step-0 probes, 4 batches per state), critical (the critical LR at steps 10 and 100, one batch per
#   state, with the law fitted at step 0), wd (the weight-decay equilibrium), affine (step 0 with the
#   BN parameters and the classifier frozen), plots. Default: all, in this order.
#   MODELS limits the models (default "plain-20 plain-50 resnet-noshort-56"), SEEDS the seeds
#   (default "0 1 2"). Finished runs and probes are reused on a rerun.
# Environment: ELRSCOPE (default build/elrscope), THREADS (default 2), WIDTH (default 8).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ELRSCOPE=${ELRSCOPE:-$here/../build/elrscope}
THREADS=${THREADS:-2}
WIDTH=${WIDTH:-8}
MODELS=${MODELS:-plain-20 plain-50 resnet-noshort-56}
SEEDS=${SEEDS:-0 1 2}
[ $# -ge 1 ] || { echo "usage: $0 OUT_DIR [train collapse critical wd affine plots]" >&2; exit 2; }
OUT=$1; shift
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(train collapse critical wd affine plots)
mkdir -p "$OUT/runs"
common=(--threads "$THREADS" --quiet)

# The finished runs among MODELS x SEEDS.
runs() { for m in $MODELS; do for s in $SEEDS; do [ -f "$OUT/runs/$m-s$s/summary.json" ] && echo "$OUT/runs/$m-s$s"; done; done; }

train() {  # lr 0.1, momentum 0.9, constant: the states before steps 0, 10 and 100 are kept
  for m in $MODELS; do for s in $SEEDS; do
    local dir="$OUT/runs/$m-s$s"
    [ -f "$dir/summary.json" ] && continue
    "$ELRSCOPE" train --model "${m%-*}" --depth "${m##*-}" --lr 0.1 --momentum 0.9 --schedule constant \
        --seed "$s" --steps 101 --no-eval --keep-checkpoints "0 10 100" --width "$WIDTH" "${common[@]}" --out "$dir" --overwrite
  done; done
}

collapse() {  # kappa(E_0) over 3 seeds x 4 batches per model, the law fitted on all of them
  # shellcheck disable=SC2046
  "$ELRSCOPE" critical $(runs) --at 0 --batches 4 --octaves-below 3 --octaves-above 2 "${common[@]}" \
      --out "$OUT/collapse" | tee "$OUT/collapse.txt"
}

critical() {  # the critical LR after 10 and 100 steps (step 0: collapse), predicted with the law fitted at step 0
  local scale power
  scale=$(awk -F, '$7 == 1 { print $4 }' "$OUT/collapse/kappa_fit.csv")
  power=$(awk -F, '$7 == 1 { print $5 }' "$OUT/collapse/kappa_fit.csv")
  # shellcheck disable=SC2046
  "$ELRSCOPE" critical $(runs) --at "10 100" --batches 1 --octaves-below 3 --octaves-above 2 \
      --collapse-scale "$scale" --collapse-power "$power" "${common[@]}" --out "$OUT/critical" | tee "$OUT/critical.txt"
}

wd() {  # weight decay 0.02 at lr 0.5, no momentum: 3/(lr wd) = 300 steps to the equilibrium
  local dir="$OUT/wd"
  [ -f "$dir/summary.json" ] || "$ELRSCOPE" train --model plain --depth 10 --lr 0.5 --momentum 0 --wd 0.02 \
      --schedule constant --seed 0 --steps 601 --batch 32 --log-every 1 --no-eval --width "$WIDTH" "${common[@]}" \
      --out "$dir" --overwrite
  awk -F, -v lr=0.5 -v wd=0.02 -v beta=0 -f "$here/plots/wd-equilibrium.awk" "$dir/layers.csv" | tee "$OUT/wd.txt"
}

affine() {  # check 4 at step 0 with the BN gammas and betas and the classifier frozen (seed 0)
  local dirs=()
  for m in plain-20 plain-50; do
    local dir="$OUT/affine/runs/$m-s0"
    dirs+=("$dir")
    [ -f "$dir/summary.json" ] || "$ELRSCOPE" train --model "${m%-*}" --depth "${m##*-}" --lr 0.1 --momentum 0.9 \
        --schedule constant --seed 0 --steps 1 --no-eval --keep-checkpoints 0 --affine-lr-scale 0 --width "$WIDTH" \
        "${common[@]}" --out "$dir" --overwrite
  done
  "$ELRSCOPE" critical "${dirs[@]}" --at 0 --batches 4 --octaves-below 3 --octaves-above 2 "${common[@]}" \
      --out "$OUT/affine/probes" | tee "$OUT/affine.txt"
}

plots() { "$here/plots/science-figures.sh" "$OUT" "$OUT/figures"; }

for s in "${sections[@]}"; do
  case "$s" in
    train|collapse|critical|wd|affine|plots) echo "== $s" >&2; "$s" ;;
    *) echo "unknown section: $s" >&2; exit 2 ;;
  esac
done
