#!/usr/bin/env bash
# Writes a checkpoint with `elrscope train` on the synthetic set and cross-checks it (and a file the
# Python `safetensors` package writes) with tests/check_checkpoint.py.
#
# usage: check_checkpoint.sh ELRSCOPE DUMP_CHECKPOINT [PYTHON]
# The first of PYTHON, $ELR_PYTHON and python3 that exists is used. Exits 77 (skipped) when there is no Python with
# numpy and safetensors.
set -euo pipefail
elrscope=$1 dump=$2
python=""
for candidate in "${3:-}" "${ELR_PYTHON:-}" "$(command -v python3 || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "check_checkpoint: skipped: no python3"
  exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/elr-ckpt-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$elrscope" train --model plain --depth 4 --width 6 --dataset synthetic --synthetic-size 64 --batch 16 --steps 3 \
  --momentum 0.9 --wd 1e-4 --no-eval --quiet --threads 1 --out "$tmp/run" >/dev/null
exec "$python" "$(dirname "$0")/check_checkpoint.py" "$dump" "$tmp/run/checkpoint.safetensors"
