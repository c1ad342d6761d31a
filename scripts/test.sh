#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd "${ELR_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)"
