#!/usr/bin/env bash
# Run THERE, on the GPU machine (CUDA toolkit, compiler, CMake; no network, no apt), from the
# repository root with gpu-debs/ (from scripts/fetch-gpu-debs.sh) carried along:
#   unpack     the .deb files into a local prefix (dpkg -x / dpkg-deb -x)
#   configure  CMake for sm_90 with CMAKE_PREFIX_PATH pointing at the prefix; says where cuDNN is
#   build      only what the requested phases run, target by target (one failure stops nothing)
#   tests      ctest -L gpu
#   labs       every kernel lab (validated, then timed)
#   bench      elrscope bench --suite gpu-kernels and --suite gpu-step (quick subsets)
#   memcheck   compute-sanitizer memcheck on the kernel test binaries, each under its own limit
#   racecheck  compute-sanitizer racecheck on the same (the conv tests: the tile-shape cases only)
# and writes ONE Markdown + JSON report (gpu-check-<gpu>-<date>.{md,json}, the bench tables inside),
# the bench results as their own files (<report>-bench-{kernels,step}.{md,json}) and the phase logs
# (<report>-logs.tar.gz) under --out, $OUT, or bench/results/. A failing phase is recorded and the
# script goes on to the report; the run stays under ELR_GPU_CHECK_BUDGET_S seconds. The exit status
# is 0 only when every phase that ran passed. docs/gpu.md has the plan for a 15-minute GPU loan.
#
# --dry-run runs every phase HERE, without a GPU, on the CPU execution layer: the same configure
# and build (nvcc objects included) plus the CPU-layer twins, whose tests, labs (--small),
# sanitizer checks and GPU bench suites (--tiny) run instead, and the same report (CI runs it).
#
# Options:
#   --phases LIST   comma-separated phases (above), or `first` (unpack,configure,build,tests,
#                   memcheck,racecheck; budget 420 s) or `second` (build,labs,bench; budget 300 s):
#                   the two calls of docs/gpu.md
#   --dry-run       on the CPU execution layer (default build dir build-gpu-dry, budget 1500 s)
#   --out DIR       where the report goes (default $OUT, else bench/results)
#   --bench-full    bench every kernel shape and more step rounds (about 3 minutes more)
#   --build-dir D   (default build-gpu)     --prefix P   (default <build-dir>/prefix)
#   --debs D        (default gpu-debs)      --arch A     (default 90)
# Environment: ELR_COMMIT (the commit of the copied tree, which has no .git: evaluate
# `git rev-parse --short HEAD` before the call), ELR_GPU_CHECK_BUDGET_S.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

all_phases=unpack,configure,build,tests,memcheck,racecheck,labs,bench
phases=$all_phases
default_budget=480
bench_full=0
dry_run=0
build_dir=""
prefix=""
debs=gpu-debs
arch=90
out_dir=${OUT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --phases) phases=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --out) out_dir=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --debs) debs=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --bench-full) bench_full=1; shift ;;
    -h|--help) sed -n 2,33p "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$phases" in
  first) phases=unpack,configure,build,tests,memcheck,racecheck; default_budget=420 ;;
  second) phases=build,labs,bench; default_budget=300 ;;
esac
for p in ${phases//,/ }; do
  case ",$all_phases," in *",$p,"*) ;; *) echo "gpu-check: unknown phase $p (phases: $all_phases)" >&2; exit 2 ;; esac
done
[ "$dry_run" = 1 ] && default_budget=1500
[ -n "$build_dir" ] || build_dir=$([ "$dry_run" = 1 ] && echo build-gpu-dry || echo build-gpu)
case "$build_dir" in /*) ;; *) build_dir=$root/$build_dir ;; esac
[ -n "$prefix" ] || prefix=$build_dir/prefix
case "$prefix" in /*) ;; *) prefix=$root/$prefix ;; esac
case "$debs" in /*) ;; *) debs=$root/$debs ;; esac

budget=${ELR_GPU_CHECK_BUDGET_S:-$default_budget}
start_time=$(date +%s)
report_dir=${out_dir:-$root/bench/results}
mkdir -p "$report_dir" "$build_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
phase_table=$work/phases.tsv  # phase, rc (or "skipped"), seconds
notes=$work/notes.tsv         # phase, what was skipped or left out and why
: > "$phase_table"
: > "$notes"
jobs=$(nproc 2>/dev/null || echo 4)

export PATH=$PATH:/usr/local/cuda/bin
nvcc_bin=$(command -v nvcc || true)
sanitizer=$(command -v compute-sanitizer || true)
[ -n "$sanitizer" ] || { [ -x /usr/local/cuda/compute-sanitizer/compute-sanitizer ] && sanitizer=/usr/local/cuda/compute-sanitizer/compute-sanitizer; } || true
generator=""
command -v ninja >/dev/null && generator=Ninja
# The phases run as `bash -c` children (so that `timeout` can limit them): they see these.
export root build_dir prefix debs arch jobs nvcc_bin sanitizer generator bench_full dry_run work notes phases

wants() { case ",$phases," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
remaining() { echo $((budget - ($(date +%s) - start_time))); }
note() { printf '%s\t%s\n' "$1" "$2" >> "$notes"; }
export -f note

# run_phase NAME LIMIT_S COMMAND...: runs with a time limit capped by what is left of the budget
# (minus 20 s kept for the report), logs to $work/NAME.log, records "name rc seconds" and never
# stops the script.
run_phase() {
  local name=$1 limit=$2
  shift 2
  local left=$(( $(remaining) - 20 ))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -le 5 ]; then
    printf '%s\t%s\t%s\n' "$name" skipped 0 >> "$phase_table"
    note "$name" "not run: the time budget (${budget} s, ELR_GPU_CHECK_BUDGET_S) was spent"
    echo "gpu-check: $name skipped (time budget spent)"
    return 0
  fi
  echo "gpu-check: $name (limit ${limit}s)"
  local t0 rc
  t0=$(date +%s)
  set +e
  # shellcheck disable=SC2016
  timeout --kill-after=10 "$limit" bash -c 'set -Eeuo pipefail; trap "echo \"gpu-check: stopped at: \$BASH_COMMAND\" >&2" ERR
    "$@"' gpu-check-phase "$@" > "$work/$name.log" 2>&1
  rc=$?
  set -e
  printf '%s\t%s\t%s\n' "$name" "$rc" $(( $(date +%s) - t0 )) >> "$phase_table"
  [ "$rc" -eq 0 ] || { echo "gpu-check: $name failed (rc $rc); last lines:"; tail -n 15 "$work/$name.log"; }
  return 0
}

# ---- unpack ------------------------------------------------------------------------------------
unpack_debs() {
  if ! ls "$debs"/*.deb > /dev/null 2>&1; then
    if [ "$dry_run" = 1 ]; then
      note unpack "no .deb files in $debs: the dry run builds against this machine's packages"
      echo "no .deb files in $debs (dry run: nothing to unpack)"
      return 0
    fi
    echo "no .deb files in $debs (run scripts/fetch-gpu-debs.sh here first)"
    return 1
  fi
  rm -rf "$prefix"
  mkdir -p "$prefix"
  for deb in "$debs"/*.deb; do
    if command -v dpkg-deb > /dev/null; then
      dpkg-deb -x "$deb" "$prefix"
    else  # a .deb is an ar archive holding data.tar.*
      local tmp
      tmp=$(mktemp -d)
      (cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$prefix")
      rm -rf "$tmp"
    fi
    echo "unpacked $(basename "$deb")"
  done
  # Absolute symlinks (e.g. libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13) point into the
  # prefix instead, when the target was unpacked there.
  find "$prefix" -type l | while read -r link; do
    target=$(readlink "$link")
    case "$target" in /*) if [ -e "$prefix$target" ]; then ln -sfn "$prefix$target" "$link"; fi ;; esac
  done
  echo "prefix: $prefix"
}

# ---- configure ---------------------------------------------------------------------------------
configure() {
  local extra=()
  [ -n "$nvcc_bin" ] && extra+=(-DCMAKE_CUDA_COMPILER="$nvcc_bin")
  if command -v ccache > /dev/null; then  # where there is one (here): the CI's second build is cheap
    export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
    extra+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$root" -B "$build_dir" ${generator:+-G "$generator"} -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" "${extra[@]}" \
    -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_INCLUDE_PATH="$prefix/usr/include" \
    -DCMAKE_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu;$prefix/lib/x86_64-linux-gnu"
  echo "--- where the dependencies were found"
  grep -E '^(Boost_DIR|boost_context_DIR|fmt_DIR|Eigen3_DIR|CLI11_DIR|nlohmann_json_DIR|Catch2_DIR|ZLIB_INCLUDE_DIR|ZLIB_LIBRARY_RELEASE|CMAKE_CUDA_COMPILER|CMAKE_CUDA_ARCHITECTURES|ELR_CUDNN_INCLUDE_DIR|ELR_CUDNN_LIBRARY)[:=]' \
    "$build_dir/CMakeCache.txt" || true
  echo "cuDNN $(cudnn_where)"
}

# The configure's sentence on cuDNN (kernels/find_cudnn.cmake), kept in the cache.
cudnn_where() { sed -n 's/^ELR_CUDNN_WHERE:INTERNAL=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true; }

# ---- build: what the requested phases run, target by target --------------------------------------
# Executables of the CTest tests with exactly this label, from CTest's files (they exist before the
# build; `ctest --show-only` leaves out the commands of executables not built yet).
tests_with_label() {
  python3 - "$build_dir" "$1" <<'PY'
import os, re, sys
build, label = sys.argv[1], sys.argv[2]
exes = set()
for d, subdirs, files in os.walk(build):
    subdirs[:] = [s for s in subdirs if s != "prefix"]
    if "CTestTestfile.cmake" not in files:
        continue
    text = open(os.path.join(d, "CTestTestfile.cmake")).read()
    commands = dict(re.findall(r'add_test\(\[=\[(.*?)\]=\]\s+"([^"]+)"', text))
    for name, props in re.findall(r'set_tests_properties\(\[=\[(.*?)\]=\]\s+PROPERTIES(.*)', text):
        labels = re.search(r'LABELS "([^"]*)"', props)
        if labels and label in labels.group(1).split(";") and name in commands:
            exes.add(os.path.basename(commands[name]))
print(" ".join(sorted(exes)))
PY
}

# The kernel test binaries the sanitizers run on the GPU, each with a Catch2 filter (empty: all) and
# a time limit per tool; and their CPU-layer twins for the dry run. The conv tests launch hundreds
# of GEMMs: memcheck runs our kernels' cases ([cuda], [tf32]: not the cuDNN/cuBLAS glue's), racecheck
# only the case that forces every shared-memory tile shape.
sanitizer_runs() {  # tool -> lines "binary|filter|limit_s|twin|twin filter"
  case "$1" in
    memcheck)
      echo "elr_gpu_ops_tests||90|elr_simt_tests|[cuda_ops]"
      echo "elr_gpu_tests||45|elr_simt_tests|[simt],[cuda_runtime]"
      echo "elr_gpu_conv_tests|[cuda],[tf32]|120|elr_simt_conv_tests|[cuda]" ;;
    racecheck)
      echo "elr_gpu_ops_tests||90|elr_simt_tests|[cuda_ops]"
      echo "elr_gpu_tests||45|elr_simt_tests|[simt],[cuda_runtime]"
      echo "elr_gpu_conv_tests|conv2d and linear CUDA kernels agree under every tile shape|120|elr_simt_conv_tests|conv2d and linear CUDA kernels agree under every tile shape" ;;
  esac
}

# The CPU layer's own checks: the *_checked binaries of the `simt-check` tests, where that label exists.
have_simt_checks() { [ -n "$(tests_with_label simt-check 2>/dev/null)" ]; }

# Every kernel lab target (elr_lab_*, the *_simt twins included), one a line.
lab_targets() {
  ninja -C "$build_dir" -t targets all 2>/dev/null | sed -n 's/^\(elr_lab_[a-z0-9_]*\): .*/\1/p' || true
}

build_targets() {
  local targets="" t
  if wants tests; then targets+=" $(tests_with_label gpu)"; fi
  if wants memcheck || wants racecheck; then
    for t in $(sanitizer_runs memcheck | cut -d'|' -f1); do targets+=" $t"; done
  fi
  if wants labs; then targets+=" $(lab_targets | grep -v '_simt$' || true)"; fi
  if wants bench; then targets+=" elrscope"; fi
  if [ "$dry_run" = 1 ]; then  # the CPU-layer twins run in place of the GPU programs
    if wants tests; then targets+=" $(tests_with_label simt)"; fi
    if wants memcheck || wants racecheck; then
      for t in $(sanitizer_runs memcheck | cut -d'|' -f4); do targets+=" $t"; done
      if have_simt_checks; then targets+=" $(tests_with_label simt-check)"; fi
    fi
    if wants labs; then targets+=" $(lab_targets | grep '_simt$' || true)"; fi
    if wants bench; then targets+=" elrscope_simt"; fi
  fi
  targets=$(echo $targets | tr ' ' '\n' | sort -u | tr '\n' ' ')
  [ -n "${targets// /}" ] || { echo "nothing to build for phases $phases"; return 0; }
  echo "targets: $targets"
  local failed=""
  if [ "$generator" = Ninja ]; then
    # One parallel run that builds all it can past a failure; after a failure, target by target
    # (quietly: the errors are above) to name the targets that fail.
    # shellcheck disable=SC2086
    if ! ninja -C "$build_dir" -k 0 -j "$jobs" $targets; then
      for t in $targets; do ninja -C "$build_dir" -j "$jobs" "$t" > /dev/null 2>&1 || failed+=" $t"; done
    fi
  else
    for t in $targets; do cmake --build "$build_dir" -j "$jobs" --target "$t" || failed+=" $t"; done
  fi
  printf '%s\n' $targets > "$work/build-targets.txt"
  printf '%s\n' $failed > "$work/build-failed.txt"
  if [ -n "$failed" ]; then
    note build "failed to build:$failed (the phases that need them report them missing)"
    echo "FAILED targets:$failed"
    return 1
  fi
  echo "built every target"
}

# ---- tests ---------------------------------------------------------------------------------------
gpu_tests() {
  if [ "$dry_run" = 1 ]; then  # the CPU-layer twins of the GPU tests, under their CTest schedules
    (cd "$build_dir" && ctest -L '^simt$' --output-on-failure --timeout 600 -j "$jobs")
  else
    (cd "$build_dir" && ctest -L '^gpu$' --output-on-failure --timeout 150)
  fi
}

# ---- memcheck, racecheck: each binary under its own time limit ----------------------------------
# Writes one line per run to $work/sanitizer.tsv: tool, binary, filter, status, seconds, summary.
sanitize() {
  local tool=$1 status=0 checked=0
  if [ "$dry_run" = 1 ]; then
    if have_simt_checks; then
      checked=1
    else
      note "$tool" "no simt-check tests in this build: ran the plain CPU-layer twins (the -L simt binaries) without the layer's checks"
    fi
  elif [ -z "$sanitizer" ]; then
    echo "compute-sanitizer not found"
    return 1
  fi
  local line bin filter limit twin twin_filter cmd t0 rc result summary
  while IFS='|' read -r bin filter limit twin twin_filter; do
    cmd=()
    if [ "$dry_run" = 1 ]; then
      local exe=$twin
      [ "$checked" = 1 ] && exe=${twin}_checked
      bin=$exe filter=$twin_filter limit=$((limit * 4))  # the CPU layer is slower than a GPU under a sanitizer
      [ "$checked" = 1 ] && cmd=(env "ELR_SIMT_CHECKS=$tool")
    else
      cmd=("$sanitizer" --tool "$tool" --error-exitcode 3 --print-limit 20)
    fi
    if [ ! -x "$build_dir/$bin" ]; then
      note "$tool" "$bin: not built, not run"
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$bin" "$filter" missing 0 "" >> "$work/sanitizer.tsv"
      status=1
      continue
    fi
    echo "=== $tool $bin ${filter:+\"$filter\" }(limit ${limit}s)"
    t0=$(date +%s)
    set +e
    if [ -n "$filter" ]; then
      timeout --kill-after=5 "$limit" "${cmd[@]}" "$build_dir/$bin" "$filter" < /dev/null > "$work/run.out" 2>&1
    else
      timeout --kill-after=5 "$limit" "${cmd[@]}" "$build_dir/$bin" < /dev/null > "$work/run.out" 2>&1
    fi
    rc=$?
    set -e
    cat "$work/run.out"
    case "$rc" in 0) result=ok ;; 124|137) result=timeout; status=1 ;; *) result=failed; status=1 ;; esac
    summary=$(grep -hoE '(ERROR SUMMARY|RACECHECK SUMMARY): .*|All tests passed.*|test cases: .*' "$work/run.out" | tr '\n' ' ' || true)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$bin" "$filter" "$result" $(( $(date +%s) - t0 )) "$summary" >> "$work/sanitizer.tsv"
    echo "=== $tool $bin: $result (rc $rc)"
  done < <(sanitizer_runs "$tool")
  return $status
}

# ---- labs ----------------------------------------------------------------------------------------
run_labs() {
  local status=0 lab ran=0 args=()
  for lab in "$build_dir"/elr_lab_*; do
    [ -x "$lab" ] || continue
    case "$lab" in *_simt) [ "$dry_run" = 1 ] || continue; args=(--small) ;; *) [ "$dry_run" = 0 ] || continue; args=() ;; esac
    echo "=== $(basename "$lab") ${args[*]}"
    ran=$((ran + 1))
    timeout 150 "$lab" "${args[@]}" || status=1
  done
  [ "$ran" -gt 0 ] || { echo "no kernel labs built"; return 1; }
  [ "$dry_run" = 0 ] || note labs "the conv tile lab has no CPU-layer build (it needs cuDNN): compiled by nvcc only"
  return $status
}

# ---- bench: the GPU suites of elrscope bench, each under its own time limit ---------------------
run_bench() {
  local status=0 python program=elrscope kernel_args step_args
  kernel_args=(--repeats 5 --warmup 1)
  step_args=(--rounds 3 --steps-per-round 5 --warmup 2)
  # The interpreter with torch: the image's python3 (Debian's /usr/bin/python3 may lack CUDA torch).
  python=$(command -v python3 || echo /usr/bin/python3)
  step_args+=(--python "$python")
  if [ "$bench_full" = 1 ]; then
    kernel_args=(--full --repeats 7 --warmup 2)
    step_args=(--rounds 5 --steps-per-round 10 --warmup 3 --python "$python")
  fi
  if [ "$dry_run" = 1 ]; then  # the same harness and report on the CPU execution layer, at tiny shapes
    program=elrscope_simt
    kernel_args=(--tiny --repeats 2 --warmup 1)
    step_args=(--tiny --rounds 2 --steps-per-round 2 --warmup 1 --no-pytorch)
    note bench "tiny shapes on the CPU execution layer (times mean nothing); no PyTorch peer (no CUDA torch here); no cuDNN/cuBLAS peers (the CPU layer has none)"
  fi
  echo "=== $program bench --suite gpu-kernels ${kernel_args[*]}"
  timeout --kill-after=5 $([ "$bench_full" = 1 ] && echo 240 || echo 80) "$build_dir/$program" bench --suite gpu-kernels \
    "${kernel_args[@]}" --json "$work/bench-kernels.json" --md "$work/bench-kernels.md" || status=1
  echo "=== $program bench --suite gpu-step ${step_args[*]}"
  timeout --kill-after=5 $([ "$bench_full" = 1 ] && echo 240 || echo 90) "$build_dir/$program" bench --suite gpu-step \
    "${step_args[@]}" --json "$work/bench-step.json" --md "$work/bench-step.md" || status=1
  return $status
}

export -f unpack_debs configure cudnn_where tests_with_label sanitizer_runs have_simt_checks lab_targets build_targets \
  gpu_tests \
  sanitize run_labs run_bench wants
for p in ${all_phases//,/ }; do wants "$p" || note "$p" "not requested (--phases $phases)"; done
wants unpack && run_phase unpack 90 unpack_debs
wants configure && run_phase configure 120 configure
if wants build; then
  if [ -f "$build_dir/CMakeCache.txt" ]; then run_phase build $([ "$dry_run" = 1 ] && echo 1200 || echo 330) build_targets
  else printf 'build\tskipped\t0\n' >> "$phase_table"; note build "not run: $build_dir is not configured"; fi
fi
export ELR_FASHION_MNIST_DIR=${ELR_FASHION_MNIST_DIR:-$prefix/usr/share/datasets/fashion-mnist}
wants tests && run_phase tests $([ "$dry_run" = 1 ] && echo 600 || echo 150) gpu_tests
# The timed phases before the sanitizers: the bench numbers are what a sitting on the GPU is for,
# and the sanitizer phases are cheap to rerun alone (--phases memcheck,racecheck).
wants labs && run_phase labs 120 run_labs
wants bench && run_phase bench $([ "$bench_full" = 1 ] && echo 500 || echo 180) run_bench
wants memcheck && run_phase memcheck $([ "$dry_run" = 1 ] && echo 600 || echo 270) sanitize memcheck
wants racecheck && run_phase racecheck $([ "$dry_run" = 1 ] && echo 600 || echo 270) sanitize racecheck

# ---- report ------------------------------------------------------------------------------------
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1 || true)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1 || true)
cuda_version=$([ -n "$nvcc_bin" ] && "$nvcc_bin" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p' || true)
if [ -n "${ELR_COMMIT:-}" ]; then
  commit=$ELR_COMMIT dirty=unknown
elif commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
  dirty=$(git -C "$root" status --porcelain 2>/dev/null | grep -qv '^??' && echo yes || echo no)
else
  commit="unknown (no .git here and no ELR_COMMIT)" dirty=unknown
fi
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
if [ "$dry_run" = 1 ]; then gpu_name="none (dry run on the CPU execution layer)"; slug=dry-run
else slug=$(echo "${gpu_name:-no-gpu}" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/^-//; s/-$//'); fi
base=$report_dir/gpu-check-$slug-$stamp
total=$(( $(date +%s) - start_time ))
cudnn=$(cudnn_where)
[ -n "$cudnn" ] || cudnn="unknown (no configured build dir)"

export GPU_NAME="${gpu_name:-none}" DRIVER="${driver:-}" CUDA_VERSION="${cuda_version:-}" COMMIT=$commit \
  DIRTY=$dirty STAMP=$stamp TOTAL_S=$total WORK=$work PHASE_TABLE=$phase_table REPORT_BASE=$base ARCH=$arch \
  DRY_RUN=$dry_run CUDNN=$cudnn NOTES=$notes PHASES=$phases BUDGET=$budget
if command -v python3 > /dev/null; then
  python3 "$root/scripts/gpu_check_report.py"
else  # no python: a plain report from the phase table
  {
    echo "# GPU check: ${gpu_name:-none} ($stamp)"
    echo
    echo "| phase | rc | seconds |"
    echo "|---|---|---|"
    awk -F'\t' '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$phase_table"
  } > "$base.md"
  {
    echo "{\"gpu\": \"${gpu_name:-none}\", \"date\": \"$stamp\", \"commit\": \"$commit\", \"phases\": ["
    awk -F'\t' 'NR > 1 {printf ",\n"} {printf "  {\"phase\": \"%s\", \"rc\": \"%s\", \"seconds\": %s}", $1, $2, $3}' "$phase_table"
    echo "]}"
  } > "$base.json"
fi
# The bench results as files of their own (to commit under bench/results/), and the full phase logs
# as one archive next to the report (the device tool brings back at most 8 files).
for suite in kernels step; do
  for ext in md json; do
    if [ -f "$work/bench-$suite.$ext" ]; then cp "$work/bench-$suite.$ext" "$base-bench-$suite.$ext"; fi
  done
done
(cd "$work" && tar -czf "$base-logs.tar.gz" ./*.log) 2>/dev/null || true
echo "gpu-check: report $base.md and $base.json (${total}s); phase logs in $base-logs.tar.gz and $work"
# Fails when a phase that ran failed or timed out, or was cut by the budget.
awk -F'\t' '$2 != "0" {bad = 1} END {exit bad ? 1 : 0}' "$phase_table"
