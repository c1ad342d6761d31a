// Linked straight into elrscope (not through a static library, whose unreferenced objects the
// linker would drop): hands the GPU suites to `elrscope bench` before main runs.
#include "bench/gpu/runner.h"

namespace {
[[maybe_unused]] const bool gpu_bench_registered = [] {
  elr::bench::set_gpu_bench_runner(&elr::bench::gpu::run_gpu_bench);
  return true;
}();
}  // namespace
