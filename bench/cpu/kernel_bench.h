// The CPU kernel benchmark: every op case of the suite (kernels/optable) is validated against the
// table's double reference at the benchmarked shape and only then timed. The kernel under test is
// an OpEntry (the table's CPU entry unless a test hands in a broken one); a failed validation turns
// the row into a validation error, never a time.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/kernel_row.h"
#include "kernels/optable/op_case.h"
#include "kernels/optable/random.h"
#include "layers/models.h"

namespace elr::bench {

struct BenchOptions {
  int repeats = 5;            // timed repeats; median and min are reported
  int warmup = 1;             // untimed calls before the repeats
  bool flush_cache = true;    // evict the caches (writes a buffer larger than L3) before each repeat
  double min_repeat_s = 1e-3; // tiny kernels: each repeat runs the kernel enough times to last this long
  double peak_gflops = 0;     // the assumed FP32 peak, for the conv rows' share (0: not reported)
};

// Validates `kernel` on the case (outputs poisoned first, so unwritten elements fail), then times it.
KernelRow bench_cpu_case(const kernels::OpCase& c, const kernels::OpEntry& kernel, const BenchOptions& o);

// ---- the CPU kernel suite -----------------------------------------------------------------------
// The suite's cases are kernels::network_cases (the layers of the CIFAR nets at `batch`) but the
// classifier's linear layer, which only the GPU suite times (against cuBLAS).
struct KernelSuiteConfig {
  int batch = 128;
  bool full = false;  // all deduplicated shapes; otherwise a representative subset
  BenchOptions options;
  kernels::OpEntry kernel = kernels::run_cpu;
  std::function<void(const KernelRow&)> on_row;  // progress (may be empty)
};
std::vector<KernelRow> run_kernel_suite(const KernelSuiteConfig& c);

// Element counts of every parameter tensor of build_model(c), in parameter order.
std::vector<int64_t> parameter_sizes(const ModelConfig& c);

// Seeded inputs (kernels/optable/random.h), for the step benchmarks.
using kernels::random_floats;

// Timing helper: `warmup` untimed calls, then per repeat (after an optional cache flush) enough
// calls to last min_repeat_s; per-call median and min.
struct Timing {
  double median_s = 0, min_s = 0;
  int repeats = 0;
};
Timing time_kernel(const BenchOptions& o, const std::function<void()>& call);
double load_average_1min();  // /proc/loadavg, 0 when unreadable

}  // namespace elr::bench
