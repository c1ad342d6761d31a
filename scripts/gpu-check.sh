#!/usr/bin/env bash
# Run THERE, on the GPU machine (CUDA toolkit, compiler, CMake; no network, no apt), from the
# repository root with gpu-debs/ (from scripts/fetch-gpu-debs.sh) carried along:
#   1 unpack     the .deb files into a local prefix (dpkg -x / dpkg-deb -x)
#   2 configure  CMake for sm_90 with CMAKE_PREFIX_PATH pointing at the prefix
#   3 build      the gpu-labelled tests and the kernel labs, with all cores
#   4 tests      ctest -L gpu
#   5 memcheck   compute-sanitizer memcheck on the kernel tests
#   6 racecheck  compute-sanitizer racecheck on the kernel tests
#   7 labs       every kernel lab (validated, then timed)
#   8 bench      elrscope bench --suite gpu-kernels and --suite gpu-step (validated kernels against
#                cuDNN/cuBLAS, the step eager / as a CUDA graph against PyTorch; quick subsets)
# and writes ONE Markdown + JSON report (gpu-check-<gpu>-<date>.{md,json}, the bench tables inside),
# the bench results as their own files (<report>-bench-{kernels,step}.{md,json}) and the phase logs
# (<report>-logs.tar.gz) under $OUT, or under bench/results/ when $OUT is unset. A failing phase is
# recorded and the script goes on to the report; the whole run stays under ELR_GPU_CHECK_BUDGET_S
# seconds (default 480). docs/gpu.md.
#
# Options (for partial runs and for testing the non-GPU phases elsewhere):
#   --phases LIST   comma-separated subset of: unpack,configure,build,tests,memcheck,racecheck,labs,bench
#   --bench-full    bench every kernel shape and more step rounds (about 3 minutes more)
#   --build-dir D   (default build-gpu)     --prefix P   (default <build-dir>/prefix)
#   --debs D        (default gpu-debs)      --arch A     (default 90)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

phases=unpack,configure,build,tests,memcheck,racecheck,labs,bench
bench_full=0
build_dir=build-gpu
prefix=""
debs=gpu-debs
arch=90
while [ $# -gt 0 ]; do
  case "$1" in
    --phases) phases=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --debs) debs=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --bench-full) bench_full=1; shift ;;
    -h|--help) sed -n 2,25p "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$build_dir" in /*) ;; *) build_dir=$root/$build_dir ;; esac
[ -n "$prefix" ] || prefix=$build_dir/prefix
case "$prefix" in /*) ;; *) prefix=$root/$prefix ;; esac
case "$debs" in /*) ;; *) debs=$root/$debs ;; esac

budget=${ELR_GPU_CHECK_BUDGET_S:-480}
start_time=$(date +%s)
report_dir=${OUT:-$root/bench/results}
mkdir -p "$report_dir" "$build_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
phase_table=$work/phases.tsv
: > "$phase_table"
jobs=$(nproc 2>/dev/null || echo 4)

export PATH=$PATH:/usr/local/cuda/bin
nvcc_bin=$(command -v nvcc || true)
sanitizer=$(command -v compute-sanitizer || true)
[ -n "$sanitizer" ] || { [ -x /usr/local/cuda/compute-sanitizer/compute-sanitizer ] && sanitizer=/usr/local/cuda/compute-sanitizer/compute-sanitizer; } || true
generator=""
command -v ninja >/dev/null && generator=Ninja
# The phases run as `bash -c` children (so that `timeout` can limit them): they see these.
export root build_dir prefix debs arch jobs nvcc_bin sanitizer generator bench_full work

wants() { case ",$phases," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
remaining() { echo $((budget - ($(date +%s) - start_time))); }

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
    echo "gpu-check: $name skipped (time budget spent)"
    return 0
  fi
  echo "gpu-check: $name (limit ${limit}s)"
  local t0 rc
  t0=$(date +%s)
  set +e
  timeout --kill-after=10 "$limit" bash -c 'set -euo pipefail; "$@"' gpu-check-phase "$@" > "$work/$name.log" 2>&1
  rc=$?
  set -e
  printf '%s\t%s\t%s\n' "$name" "$rc" $(( $(date +%s) - t0 )) >> "$phase_table"
  [ "$rc" -eq 0 ] || { echo "gpu-check: $name failed (rc $rc); last lines:"; tail -n 15 "$work/$name.log"; }
  return 0
}
phase_ok() { awk -F'\t' -v n="$1" '$1 == n && $2 == "0" {ok = 1} END {exit ok ? 0 : 1}' "$phase_table"; }

# ---- 1 unpack --------------------------------------------------------------------------------
unpack_debs() {
  ls "$debs"/*.deb > /dev/null 2>&1 || { echo "no .deb files in $debs (run scripts/fetch-gpu-debs.sh here first)"; return 1; }
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

# ---- 2 configure -------------------------------------------------------------------------------
configure() {
  local cuda_args=()
  [ -n "$nvcc_bin" ] && cuda_args=(-DCMAKE_CUDA_COMPILER="$nvcc_bin")
  cmake -S "$root" -B "$build_dir" ${generator:+-G "$generator"} -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" "${cuda_args[@]}" \
    -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_INCLUDE_PATH="$prefix/usr/include" \
    -DCMAKE_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu;$prefix/lib/x86_64-linux-gnu"
  echo "--- where the dependencies were found"
  grep -E '^(Boost_DIR|boost_context_DIR|fmt_DIR|Eigen3_DIR|CLI11_DIR|nlohmann_json_DIR|Catch2_DIR|ZLIB_INCLUDE_DIR|ZLIB_LIBRARY_RELEASE|CMAKE_CUDA_COMPILER|CMAKE_CUDA_ARCHITECTURES)[:=]' \
    "$build_dir/CMakeCache.txt" || true
}

# ---- 3 build: the executables of the gpu-labelled tests, and the labs --------------------------
build_targets() {
  local targets labs
  # Executables of the gpu-labelled tests, from CTest's files (they exist before the build).
  targets=$(python3 - "$build_dir" <<'PY'
import os, re, sys
build = sys.argv[1]
exes = set()
for d, subdirs, files in os.walk(build):
    subdirs[:] = [s for s in subdirs if s != "prefix"]
    if "CTestTestfile.cmake" not in files:
        continue
    text = open(os.path.join(d, "CTestTestfile.cmake")).read()
    commands = dict(re.findall(r'add_test\(\[=\[(.*?)\]=\]\s+"([^"]+)"', text))
    for name, props in re.findall(r'set_tests_properties\(\[=\[(.*?)\]=\]\s+PROPERTIES(.*)', text):
        labels = re.search(r'LABELS "([^"]*)"', props)
        if labels and "gpu" in labels.group(1).split(";") and name in commands:
            exes.add(os.path.basename(commands[name]))
print(" ".join(sorted(exes)))
PY
) || targets=""
  [ -n "$targets" ] || targets=all  # could not list the gpu tests: build everything
  labs=elr_labs
  if [ -f "$build_dir/build.ninja" ]; then
    labs=$(ninja -C "$build_dir" -t targets all | sed -n 's/^\(elr_lab_[a-z0-9_]*\): .*/\1/p' | grep -v '_simt$' | sort -u | tr '\n' ' ') || labs=elr_labs
  fi
  targets="$targets $labs elrscope"  # elrscope: the bench phase (the GPU suites are linked in)
  echo "targets: $targets"
  # shellcheck disable=SC2086
  cmake --build "$build_dir" -j "$jobs" --target $targets
}

# ---- 4-7 ---------------------------------------------------------------------------------------
gpu_tests() { (cd "$build_dir" && ctest -L gpu --output-on-failure --timeout 150); }

kernel_test_binaries() {
  for b in elr_gpu_ops_tests elr_gpu_conv_tests elr_gpu_tests; do [ -x "$build_dir/$b" ] && echo "$build_dir/$b"; done
  return 0
}

sanitize() {
  local tool=$1 status=0 bin
  [ -n "$sanitizer" ] || { echo "compute-sanitizer not found"; return 1; }
  for bin in $(kernel_test_binaries); do
    echo "=== compute-sanitizer --tool $tool $(basename "$bin")"
    "$sanitizer" --tool "$tool" --error-exitcode 3 --print-limit 20 "$bin" || status=1
  done
  return $status
}

run_labs() {
  local status=0 lab ran=0
  for lab in "$build_dir"/elr_lab_*; do
    case "$lab" in *_simt) continue ;; esac
    [ -x "$lab" ] || continue
    echo "=== $(basename "$lab")"
    ran=$((ran + 1))
    timeout 150 "$lab" || status=1
  done
  [ "$ran" -gt 0 ] || { echo "no kernel labs built"; return 1; }
  return $status
}

# ---- 8 bench: the GPU suites of elrscope bench, each under its own time limit -------------------
run_bench() {
  local status=0 python kernel_args step_args
  cmake --build "$build_dir" -j "$jobs" --target elrscope  # a no-op after the build phase
  # The interpreter with torch: the image's python3 (Debian's /usr/bin/python3 may lack CUDA torch).
  python=$(command -v python3 || echo /usr/bin/python3)
  kernel_args=(--repeats 5 --warmup 1)
  step_args=(--rounds 3 --steps-per-round 5 --warmup 2)
  if [ "$bench_full" = 1 ]; then
    kernel_args=(--full --repeats 7 --warmup 2)
    step_args=(--rounds 5 --steps-per-round 10 --warmup 3)
  fi
  echo "=== elrscope bench --suite gpu-kernels ${kernel_args[*]}"
  timeout --kill-after=5 $([ "$bench_full" = 1 ] && echo 240 || echo 80) "$build_dir/elrscope" bench --suite gpu-kernels \
    "${kernel_args[@]}" --json "$work/bench-kernels.json" --md "$work/bench-kernels.md" || status=1
  echo "=== elrscope bench --suite gpu-step ${step_args[*]}"
  timeout --kill-after=5 $([ "$bench_full" = 1 ] && echo 240 || echo 90) "$build_dir/elrscope" bench --suite gpu-step \
    "${step_args[@]}" --python "$python" --json "$work/bench-step.json" --md "$work/bench-step.md" || status=1
  return $status
}

export -f unpack_debs configure build_targets gpu_tests kernel_test_binaries sanitize run_labs run_bench
wants unpack && run_phase unpack 90 unpack_debs
wants configure && run_phase configure 120 configure
if wants build; then
  if [ -f "$build_dir/CMakeCache.txt" ]; then run_phase build 330 build_targets
  else printf 'build\tskipped\t0\n' >> "$phase_table"; fi
fi
export ELR_FASHION_MNIST_DIR=${ELR_FASHION_MNIST_DIR:-$prefix/usr/share/datasets/fashion-mnist}
wants tests && run_phase tests 150 gpu_tests
# The timed phases before the sanitizers: the bench numbers are what a sitting on the GPU is for,
# and the sanitizer phases are cheap to rerun alone (--phases memcheck,racecheck).
wants labs && run_phase labs 120 run_labs
wants bench && run_phase bench $([ "$bench_full" = 1 ] && echo 500 || echo 180) run_bench
# The ops tests under the sanitizers: racecheck is the slow one, so it runs the kernel tests once.
wants memcheck && run_phase memcheck 120 sanitize memcheck
wants racecheck && run_phase racecheck 120 sanitize racecheck

# ---- report ------------------------------------------------------------------------------------
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1 || true)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1 || true)
cuda_version=$([ -n "$nvcc_bin" ] && "$nvcc_bin" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p' || true)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain 2>/dev/null | grep -qv '^??' && echo yes || echo no)
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
slug=$(echo "${gpu_name:-no-gpu}" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/^-//; s/-$//')
base=$report_dir/gpu-check-$slug-$stamp
total=$(( $(date +%s) - start_time ))

export GPU_NAME="${gpu_name:-none}" DRIVER="${driver:-}" CUDA_VERSION="${cuda_version:-}" COMMIT=$commit \
  DIRTY=$dirty STAMP=$stamp TOTAL_S=$total WORK=$work PHASE_TABLE=$phase_table REPORT_BASE=$base ARCH=$arch
if command -v python3 > /dev/null; then
  python3 - <<'PY'
import json, os, re
env = os.environ
work = env["WORK"]
phases = []
for line in open(env["PHASE_TABLE"]):
    name, rc, secs = line.rstrip("\n").split("\t")
    log = os.path.join(work, name + ".log")
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    status = "skipped" if rc == "skipped" else ("ok" if rc == "0" else ("timeout" if rc in ("124", "137") else "failed"))
    phases.append({"phase": name, "status": status, "rc": rc, "seconds": int(secs), "log_tail": text[-4000:], "log": text})
labs = []
for p in phases:
    for line in p["log"].splitlines():
        if line.startswith("LABJSON "):
            try: labs.append(json.loads(line[8:]))
            except ValueError: pass
tests = []
for p in phases:
    if p["phase"] == "tests":
        for m in re.finditer(r"Test\s+#\d+:\s+(\S+)\s+\.*\s*(\*\*\*)?(\w+[\w ]*?)\s+([\d.]+) sec", p["log"]):
            tests.append({"name": m.group(1), "result": m.group(3).strip(), "seconds": float(m.group(4))})
sanitizer = {}
for p in phases:
    if p["phase"] in ("memcheck", "racecheck"):
        summaries = re.findall(r"=+ (ERROR SUMMARY: .*|RACECHECK SUMMARY: .*)", p["log"])
        sanitizer[p["phase"]] = summaries
bench = {}
for suite in ("kernels", "step"):
    path = os.path.join(work, f"bench-{suite}.json")
    if os.path.exists(path):
        try: bench[suite] = json.load(open(path))
        except ValueError: pass
report = {
    "gpu": env["GPU_NAME"], "driver": env["DRIVER"], "cuda": env["CUDA_VERSION"], "arch": "sm_" + env["ARCH"],
    "commit": env["COMMIT"], "uncommitted_changes": env["DIRTY"] == "yes", "date": env["STAMP"],
    "total_seconds": int(env["TOTAL_S"]),
    "phases": [{k: v for k, v in p.items() if k not in ("log", "log_tail")} for p in phases],
    "tests": tests, "sanitizer": sanitizer, "labs": labs, "bench": bench,
}
base = env["REPORT_BASE"]
with open(base + ".json", "w") as f:
    json.dump(report, f, indent=2)
md = [f"# GPU check: {report['gpu']} ({report['date']})", "",
      f"- commit {report['commit']}{' (with uncommitted changes)' if report['uncommitted_changes'] else ''}, "
      f"CUDA {report['cuda'] or '?'}, driver {report['driver'] or '?'}, built for {report['arch']}",
      f"- total {report['total_seconds']} s", "", "| phase | status | seconds |", "|---|---|---|"]
md += [f"| {p['phase']} | {p['status']} (rc {p['rc']}) | {p['seconds']} |" for p in phases]
if tests:
    md += ["", "## GPU tests", "", "| test | result | seconds |", "|---|---|---|"]
    md += [f"| {t['name']} | {t['result']} | {t['seconds']:.2f} |" for t in tests]
if sanitizer:
    md += ["", "## compute-sanitizer", ""]
    for tool, lines in sanitizer.items():
        md += [f"- {tool}: " + ("; ".join(lines) if lines else "no summary (see the log below)")]
if labs:
    md += ["", "## Kernel labs (median of repeats, L2 flushed; GB/s over the minimum traffic)", "",
           "| lab | variant | shape | valid | ms | GB/s |", "|---|---|---|---|---|---|"]
    md += [f"| {l['lab']} | {l['variant']} | {l['shape']} | {'yes' if l['valid'] else 'NO'} | {l['ms']:.4f} | {l['gbps']:.1f} |" for l in labs]
for suite in ("step", "kernels"):
    path = os.path.join(work, f"bench-{suite}.md")
    if os.path.exists(path):
        # elrscope's own tables, one heading level down, without its title
        lines = open(path).read().splitlines()
        md += ["", f"## elrscope bench --suite gpu-{suite}", ""]
        md += [("#" + l if l.startswith("## ") else l) for l in lines if not l.startswith("# ")]
for p in phases:
    if p["status"] != "ok":
        md += ["", f"## {p['phase']}: {p['status']} (last lines of the log)", "", "```", p["log_tail"].strip(), "```"]
with open(base + ".md", "w") as f:
    f.write("\n".join(md) + "\n")
PY
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
# as one archive next to the report (the device tool brings back at most 8 files from $OUT).
for suite in kernels step; do
  for ext in md json; do
    if [ -f "$work/bench-$suite.$ext" ]; then cp "$work/bench-$suite.$ext" "$base-bench-$suite.$ext"; fi
  done
done
if [ -n "${OUT:-}" ]; then (cd "$work" && tar -czf "$base-logs.tar.gz" ./*.log) 2>/dev/null || true; fi
echo "gpu-check: report $base.md and $base.json (${total}s); phase logs in ${OUT:+$base-logs.tar.gz and }$work"
awk -F'\t' '$2 != "0" {bad = 1} END {exit bad ? 1 : 0}' "$phase_table"
