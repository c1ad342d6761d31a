#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build_dir=${ELR_BUILD_DIR:-build}
# The checkpoint cross-check needs the `safetensors` package (PyPI) next to Debian's numpy; without
# it that one test is skipped.
pyenv="$build_dir/pyenv"
if ! "$pyenv/bin/python3" -c "import safetensors, numpy" 2>/dev/null; then
  { /usr/bin/python3 -m venv --system-site-packages "$pyenv" &&
    "$pyenv/bin/python3" -m pip install -q --disable-pip-version-check safetensors; } ||
    echo "test: could not install the safetensors package into $pyenv; the checkpoint cross-check will be skipped"
fi
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)"
