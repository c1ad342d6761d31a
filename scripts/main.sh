#!/usr/bin/env bash
# The main job: installs dependencies, builds the elrscope binary (CPU backend; build-main/), and
# runs the default experiment: plain-10 on Fashion-MNIST, one epoch, every layer's ELR logged.
# Extra arguments go to `elrscope train`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ELR_BUILD_DIR=${ELR_BUILD_DIR:-build-main} scripts/build.sh --target elrscope -DELR_CUDA=OFF >/dev/null
exec "${ELR_BUILD_DIR:-build-main}/elrscope" train "$@"
