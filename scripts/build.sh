#!/usr/bin/env bash
# Configures and builds elrscope into build/ (Release, ccache when present).
# Usage: scripts/build.sh [--target NAME]... [extra cmake configure arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${ELR_BUILD_DIR:-build}
targets=()
configure_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target) targets+=(--target "$2"); shift 2 ;;
    *) configure_args+=("$1"); shift ;;
  esac
done
launcher=()
# Paths relative to the checkout in ccache's keys, so another clone of the same sources hits too.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "${configure_args[@]}"
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
