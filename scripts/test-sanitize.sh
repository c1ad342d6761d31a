#!/usr/bin/env bash
# The test suite again under AddressSanitizer + UndefinedBehaviorSanitizer: a CPU-only build
# (-DELR_SANITIZE=ON -DELR_CUDA=OFF, with debug info for readable reports) in build-asan/, then
# every test. Any sanitizer report aborts the test that triggered it, so it fails.
# Tests whose names match ELR_ASAN_EXCLUDE (a ctest -E regex) are left out; empty runs all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir=${ELR_ASAN_BUILD_DIR:-build-asan}
ELR_BUILD_DIR=$build_dir scripts/build.sh -DELR_SANITIZE=ON -DELR_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The normal build's Python environment (scripts/test.sh), for the checkpoint cross-check.
[ -x "${ELR_BUILD_DIR:-build}/pyenv/bin/python3" ] && export ELR_PYTHON="$PWD/${ELR_BUILD_DIR:-build}/pyenv/bin/python3"
exclude=${ELR_ASAN_EXCLUDE-}
cd "$build_dir"
if [ -n "$exclude" ]; then
  echo "test-sanitize: leaving out tests matching '$exclude' (too slow under the sanitizers)"
  ctest --output-on-failure -j "$(nproc)" -E "$exclude"
else
  ctest --output-on-failure -j "$(nproc)"
fi
