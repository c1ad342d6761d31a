// The GPU kernel suite: the op-case table's network cases (the CPU suite's layer shapes of the
// CIFAR nets plus a few large shapes), each a row with its vendor peer where there is one.
#include "bench/gpu/gpu_bench.h"
#include "bench/gpu/kernel_rows.h"

namespace elr::bench::gpu {

std::vector<KernelRow> run_gpu_kernel_suite(const GpuKernelSuiteConfig& c) {
  RowRunner rr(c.stream, c.options);
  std::vector<KernelRow> rows;
  for (const kernels::NetworkCase& nc : c.cases) {
    rows.push_back(case_row(rr, nc, c.ours, c.vendor ? c.vendor(*nc.op) : VendorPeer{}));
    if (c.on_row) c.on_row(rows.back());
  }
  return rows;
}

}  // namespace elr::bench::gpu
