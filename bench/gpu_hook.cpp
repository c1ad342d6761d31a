#include "bench/gpu_hook.h"

namespace elr::bench {

namespace {
// Constant-initialized, so a registration from another file's static initializer always sticks.
GpuBenchRunner registered_runner = nullptr;
}  // namespace

void set_gpu_bench_runner(GpuBenchRunner runner) { registered_runner = runner; }
GpuBenchRunner gpu_bench_runner() { return registered_runner; }

}  // namespace elr::bench
