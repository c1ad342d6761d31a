// CPU kernel rows: inputs and reference from the op-case table, the validation at the benchmarked
// shape, then the timing.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

#include "bench/cpu/kernel_bench.h"

namespace elr::bench {

namespace {

using Clock = std::chrono::steady_clock;

void flush_caches() {
  static std::vector<char> junk(64 << 20);  // larger than the L3
  static char value = 0;
  ++value;
  std::fill(junk.begin(), junk.end(), value);
}

}  // namespace

double load_average_1min() {
  std::ifstream in("/proc/loadavg");
  double v = 0;
  return (in >> v) ? v : 0;
}

Timing time_kernel(const BenchOptions& o, const std::function<void()>& call) {
  for (int i = 0; i < o.warmup; ++i) call();
  // Calls per repeat: enough that a repeat lasts min_repeat_s (one call for all but tiny kernels).
  const auto t0 = Clock::now();
  call();
  const double once = std::chrono::duration<double>(Clock::now() - t0).count();
  const int calls = once >= o.min_repeat_s ? 1 : static_cast<int>(std::min(10000.0, std::ceil(o.min_repeat_s / std::max(once, 1e-8))));
  std::vector<double> t;
  for (int r = 0; r < std::max(o.repeats, 1); ++r) {
    if (o.flush_cache) flush_caches();
    const auto start = Clock::now();
    for (int i = 0; i < calls; ++i) call();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count() / calls);
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), static_cast<int>(t.size())};
}

KernelRow bench_cpu_case(const kernels::OpCase& c, const kernels::OpEntry& kernel, const BenchOptions& o) {
  KernelRow row;
  row.kernel = c.kernel();
  row.shape = c.name();
  row.flop = c.flop();
  row.bytes = c.bytes();
  row.peak_gflops = row.flop > 0 ? o.peak_gflops : 0;
  const std::vector<kernels::Values> inputs = c.make_inputs();
  try {
    const std::vector<kernels::Values> checked = c.validation_inputs(inputs);
    row.max_rel_error = validate(c, kernels::run_on_host(c, kernel, checked), c.reference(checked));
  } catch (const std::exception& e) {
    row.error = e.what();
    return row;
  }
  row.valid = true;
  row.load_avg = load_average_1min();
  const kernels::HostRun run(c, inputs);
  const Timing t = time_kernel(o, [&] { kernel(c, run.args()); });
  row.median_s = t.median_s;
  row.min_s = t.min_s;
  row.repeats = t.repeats;
  return row;
}

}  // namespace elr::bench
