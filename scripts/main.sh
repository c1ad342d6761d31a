#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs the default experiment (plain-10 on
# Fashion-MNIST, one epoch, every layer's ELR logged). Extra arguments go to `elrscope train`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --target elrscope >/dev/null
exec "${ELR_BUILD_DIR:-build}/elrscope" train "$@"
