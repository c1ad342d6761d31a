#!/usr/bin/env bash
# Reruns every command of docs/experiments.md into one folder (about 30 minutes on 2 busy cores).
# Usage: scripts/experiments.sh OUT_DIR [SECTION...]
#   SECTION: check1 .. check7, plots. Default: all, in the order of the document except that check7
#   runs before check3, which reads check7's constant-lr run. Use a fresh OUT_DIR: finished sweep
#   points are skipped on a rerun, but the single train runs are not.
# Environment: ELRSCOPE (default build/elrscope), THREADS (default 2), WIDTH (default 8).
# The figures of the document are written to OUT_DIR/figures/ by the "plots" section (gnuplot).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ELRSCOPE=${ELRSCOPE:-$here/../build/elrscope}
THREADS=${THREADS:-2}
WIDTH=${WIDTH:-8}
[ $# -ge 1 ] || { echo "usage: $0 OUT_DIR [check1 .. check7 plots]" >&2; exit 2; }
OUT=$1; shift
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(check1 check2 check7 check3 check4 check5 check6 plots)
mkdir -p "$OUT"
common=(--width "$WIDTH" --threads "$THREADS" --quiet)

check1() {  # explosion at initialization: plain vs ResNet
  "$ELRSCOPE" explode --model plain --depths "10 20 50" --batches 1 --seeds "0 1" "${common[@]}" \
      --out "$OUT/explode-plain" | tee "$OUT/explode-plain.txt"
  "$ELRSCOPE" explode --model resnet --depths "20 56" --batches 1 --seeds "0 1" "${common[@]}" \
      --out "$OUT/explode-resnet" | tee "$OUT/explode-resnet.txt"
}

check2() {  # small constant lr: ratios drift toward 1, 1/ELR^2 grows ~2 per step
  "$ELRSCOPE" train --model plain --depth 20 --lr 0.1 --momentum 0 --steps 61 --no-eval \
      "${common[@]}" --out "$OUT/p20-lr0.1"
  "$ELRSCOPE" ode "$OUT/p20-lr0.1" | tee "$OUT/p20-lr0.1/ode.txt"
  "$ELRSCOPE" report "$OUT/p20-lr0.1"
}

check7() {  # plain-50, lr 1.0, no momentum: constant vs critical-warmup vs uniform-elr
  "$ELRSCOPE" sweep --out "$OUT/plain50" --model plain --depths 50 --lrs 1 --momenta 0 \
      --lr-controls "none critical-warmup uniform-elr" --seeds 0 --steps 51 --no-eval \
      --spread-steps "0 1 2 3 5 10 20 30 40 50" "${common[@]}"
  "$ELRSCOPE" report "$OUT/plain50" --step 10
  for p in "$OUT"/plain50/points/*/; do "$ELRSCOPE" report "$p"; done
  # uniform-elr with a smaller target ELR (the default, lr x median e at step 0, is 0.44 rad/step here)
  "$ELRSCOPE" train --model plain --depth 50 --lr 1 --momentum 0 --lr-control uniform-elr \
      --target-elr 0.02 --seed 0 --steps 51 --no-eval "${common[@]}" --out "$OUT/plain50-uniform-0.02"
  # accuracy after 200 steps of batch 32, with the test-set pass
  for c in none critical-warmup; do
    "$ELRSCOPE" train --model plain --depth 50 --lr 1 --momentum 0 --lr-control "$c" --seed 0 \
        --steps 200 --batch 32 "${common[@]}" --out "$OUT/plain50-b32-$c"
  done
  "$ELRSCOPE" train --model plain --depth 50 --lr 1 --momentum 0 --lr-control uniform-elr --target-elr 0.02 \
      --seed 0 --steps 200 --batch 32 "${common[@]}" --out "$OUT/plain50-b32-uniform-0.02"
}

check3() {  # large lr: the first step's |W|^2 jump and ELR drop (uses check7's constant-lr run)
  local run="$OUT/plain50/points/lr1_d50_m0_none_s0"
  "$ELRSCOPE" ode "$run" --steps 10 | tee "$run/ode.txt"
  "$ELRSCOPE" report "$run"
}

check4() {  # post-first-step spread against lr: U shape, minimum near the critical lr
  "$ELRSCOPE" sweep --out "$OUT/lr-sweep" --model plain --depths "20 50" \
      --lrs "0.003 0.01 0.03 0.1 0.3 1 3 10 30 100" --momenta 0 --lr-controls none --seeds 0 \
      --steps 2 --no-eval --spread-steps "0 1" "${common[@]}"
}

check5() {  # depth, momentum and warm-up against the spread
  "$ELRSCOPE" sweep --out "$OUT/depth-momentum" --model plain --depths "10 20 50" --lrs 1 \
      --momenta "0 0.9" --lr-controls none --seeds 0 --steps 11 --no-eval \
      --spread-steps "0 1 2 5 10" "${common[@]}"
  "$ELRSCOPE" sweep --out "$OUT/depth-warmup" --model plain --depths "10 20 50" --lrs 1 \
      --momenta 0 --lr-controls none --seeds 0 --steps 11 --warmup 10 --no-eval \
      --spread-steps "0 1 2 5 10" "${common[@]}"
  # momentum 0.9 at lr 0.1: the same long-run effective lr lr/(1-momentum) = 1 as lr 1 without momentum
  "$ELRSCOPE" sweep --out "$OUT/depth-momentum-lr0.1" --model plain --depths "10 20 50" --lrs 0.1 \
      --momenta 0.9 --lr-controls none --seeds 0 --steps 11 --no-eval \
      --spread-steps "0 1 2 5 10" "${common[@]}"
  "$ELRSCOPE" report "$OUT/depth-momentum" --step 10
}

check6() {  # accuracy against early spread (batch 32 to keep it to minutes; no test-set pass)
  "$ELRSCOPE" sweep --out "$OUT/acc-sweep" --model plain --depths 30 --lrs "0.01 0.1 1 10" \
      --momenta 0 --lr-controls none --seeds 0 --steps 100 --batch 32 --no-eval \
      --spread-steps "0 1 10 50 99" "${common[@]}"
  "$ELRSCOPE" report "$OUT/acc-sweep" --step 10
}

plots() {  # the figures of docs/experiments.md (gnuplot scripts in scripts/plots/)
  "$here/plots/make-figures.sh" "$OUT" "$OUT/figures"
}

for s in "${sections[@]}"; do
  case "$s" in
    check1|check2|check3|check4|check5|check6|check7|plots) echo "== $s" >&2; "$s" ;;
    *) echo "unknown section: $s" >&2; exit 2 ;;
  esac
done
