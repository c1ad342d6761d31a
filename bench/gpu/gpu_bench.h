// The GPU kernel suite of `elrscope bench --suite gpu-kernels`: every op case of the suite
// (kernels/optable) runs its CUDA entry on the device, is validated against the table's double
// reference at the benchmarked shape (outputs poisoned first, copied back), and only then timed with
// CUDA events on its stream, interleaved with the cuDNN / cuBLAS call doing the same operation. A
// failed validation makes the row an error, never a time.
//
// The kernel under test is an OpEntry, so the CI test (tests/bench_gpu/) hands in broken ones; this
// code is host C++ against the CUDA runtime API and builds both for a GPU and for the CPU execution
// layer (kernels/simt), where there is no vendor peer and the times mean nothing.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "bench/gpu_hook.h"
#include "bench/kernel_row.h"
#include "kernels/optable/case_lists.h"
#include "kernels/optable/cuda_column.h"

namespace elr::bench::gpu {

using kernels::Stream;

// The vendor library doing a case's operation (bound to the suite's stream; OpArgs::stream is
// ignored), or none (empty run).
struct VendorPeer {
  std::string name;  // "cuDNN", "cuDNN BN + ReLU", "cuBLAS"
  kernels::OpEntry run;
};

struct GpuBenchOptions {
  int repeats = 7;           // timed runs of each side; median and min reported
  int warmup = 1;            // untimed runs of each side first
  bool flush_l2 = true;      // overwrite a buffer larger than the L2 before each timed run
  size_t flush_bytes = 0;    // 0: four times the device's L2 (at least 8 MiB)
};

struct GpuKernelSuiteConfig {
  std::vector<kernels::NetworkCase> cases;
  GpuBenchOptions options;
  kernels::OpEntry ours = kernels::run_cuda;
  std::function<VendorPeer(const kernels::OpCase&)> vendor;  // empty: no peers
  Stream stream = nullptr;  // every launch and every timing event goes to this stream
  std::function<void(const KernelRow&)> on_row;
};
std::vector<KernelRow> run_gpu_kernel_suite(const GpuKernelSuiteConfig& c);

// Every kind of row at tiny shapes (`elrscope bench --tiny`: the CPU execution layer's dry run of
// scripts/gpu-check.sh, and the CI tests): 3 conv passes x 2 shapes, BN forward and backward x 2,
// max-pool 2, average pool 2, loss 2, linear 2, statistics and SGD; nets "tiny".
std::vector<kernels::NetworkCase> tiny_network_cases();

// Name, clocks and peaks of device 0 (driver/runtime versions; vendor versions are filled by the caller).
GpuDeviceInfo query_device_info();

}  // namespace elr::bench::gpu
