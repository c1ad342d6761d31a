#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ (clang++, -fsanitize=fuzzer,address,undefined) into
# build-fuzz/ and runs each for ELR_FUZZ_SECONDS (default 60) seconds, seeded from the regression
# corpus tests/fuzz_corpus/<target>/. New interesting inputs go to build-fuzz/corpus/<target>/
# (the regression corpus is only read); crashers go to build-fuzz/artifacts/<target>/ -- copy
# them into tests/fuzz_corpus/<target>/ once fixed, so tests/test_fuzz_corpus.cpp replays them.
#
# usage: scripts/fuzz.sh [seconds] [target...]     targets: idx cifar safetensors cli (default all)
# ELR_FUZZ_FLAGS adds libFuzzer flags, e.g. "-fork=1 -ignore_ooms=1" to go on past out-of-memory
# findings (fork mode prints its own statistics: see the log).
# Prints the executions per target; exits 1 when a target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${ELR_FUZZ_SECONDS:-60}}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx cifar safetensors cli)
build_dir=${ELR_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${ELR_JOBS:-$(nproc)}

# ---- install: the build's own packages, plus clang, libFuzzer and clang's OpenMP runtime --------
scripts/setup.sh
fuzz_packages=(clang-14 libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${fuzz_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "fuzz: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
cxx=$(command -v clang++-14 || command -v clang++)

# ---- build ----------------------------------------------------------------------------------------
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S fuzz -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs" --target $(printf 'fuzz_%s ' "${targets[@]}")

# ---- run ------------------------------------------------------------------------------------------
max_len_for() {
  case "$1" in
    cifar) echo 16384 ;;        # five CIFAR-10 training batches of one 3073-byte record each, and more
    safetensors) echo 16384 ;;  # a small model's checkpoint
    *) echo 4096 ;;
  esac
}

failed=()
summary=()
for t in "${targets[@]}"; do
  work="$build_dir/corpus/$t" artifacts="$build_dir/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  log="$build_dir/fuzz_$t.log"
  stamp="$build_dir/.fuzz_$t.started"
  touch "$stamp"
  echo "fuzz: $t for ${seconds}s (log: $log)"
  rc=0
  "$build_dir/fuzz_$t" -max_total_time="$seconds" -max_len="$(max_len_for "$t")" -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" ${ELR_FUZZ_FLAGS:-} "$work" "tests/fuzz_corpus/$t" \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  line="$t: ${execs:-?} executions (${rate:-?}/s), ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) files"
  found=$(find "$artifacts" -maxdepth 1 -type f -newer "$stamp" | tr '\n' ' ')
  if [ $rc -ne 0 ] || [ -n "$found" ]; then
    line+=" -- FAILED (exit $rc): $found"
    failed+=("$t")
    grep -m 1 -A 30 'ERROR:\|runtime error\|terminate called\|deadly signal' "$log" || tail -30 "$log"
  fi
  summary+=("$line")
done

echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}; crashers in $build_dir/artifacts/"
  exit 1
fi
