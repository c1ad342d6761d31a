// The GPU's name, clocks and peaks for the report. On the CPU execution layer (ELR_GPU_BENCH_SIMT)
// there are no clocks, so the peaks stay 0 (the "% of peak" columns are left empty).
#include <cuda_runtime_api.h>

#include "bench/gpu/gpu_bench.h"
#include "engine/cuda/check.h"
#include "engine/error.h"

namespace elr::bench::gpu {

#ifndef ELR_GPU_BENCH_SIMT
namespace {

// FP32 FMA lanes per SM: 64 on the A100 (sm_80) and V100 (sm_70), 128 on sm_86, sm_89 and Hopper.
int fp32_lanes_per_sm(int major, int minor) {
  if (major == 8 && minor == 0) return 64;
  if (major < 8) return 64;
  return 128;
}

}  // namespace
#endif

GpuDeviceInfo query_device_info() {
  GpuDeviceInfo info;
  ELR_CUDA_CHECK(cudaGetDevice(&info.index));
  cudaDeviceProp prop{};
  ELR_CUDA_CHECK(cudaGetDeviceProperties(&prop, info.index));
  info.name = prop.name;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.bus_width_bits = prop.memoryBusWidth;
  info.l2_bytes = prop.l2CacheSize;
  info.total_memory = static_cast<int64_t>(prop.totalGlobalMem);
  ELR_CUDA_CHECK(cudaDriverGetVersion(&info.driver_version));
  ELR_CUDA_CHECK(cudaRuntimeGetVersion(&info.runtime_version));
  info.toolkit_version = CUDART_VERSION;
#ifndef ELR_GPU_BENCH_SIMT
  // CUDA 13 dropped the clocks from cudaDeviceProp; the attributes hold the peak clocks in kHz.
  int clock_khz = 0, memory_khz = 0;
  ELR_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, info.index));
  ELR_CUDA_CHECK(cudaDeviceGetAttribute(&memory_khz, cudaDevAttrMemoryClockRate, info.index));
  info.sm_clock_mhz = clock_khz * 1e-3;
  info.mem_clock_mhz = memory_khz * 1e-3;
  const int lanes = fp32_lanes_per_sm(info.cc_major, info.cc_minor);
  info.peak_fp32_tflops = info.multiprocessors * (clock_khz * 1e3) * lanes * 2.0 * 1e-12;
  info.peak_hbm_gbs = (memory_khz * 1e3) * (info.bus_width_bits / 8.0) * 2.0 * 1e-9;
  info.peak_note = fmt::format(
      "FP32 (CUDA cores, no tensor cores): {} SMs x {:.0f} MHz x {} FMA lanes x 2 = {:.1f} TFLOP/s; "
      "memory: {:.0f} MHz x {} bit x 2 (DDR) = {:.0f} GB/s",
      info.multiprocessors, info.sm_clock_mhz, lanes, info.peak_fp32_tflops, info.mem_clock_mhz,
      info.bus_width_bits, info.peak_hbm_gbs);
#else
  info.peak_note = "CPU execution layer: no clocks, no peaks";
#endif
  return info;
}

}  // namespace elr::bench::gpu
