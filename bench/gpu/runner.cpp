#include "bench/gpu/runner.h"

#include <cuda_runtime_api.h>

#include <cstdio>

#include "bench/gpu/gpu_bench.h"
#include "bench/gpu/step_rows.h"
#include "engine/cuda/runtime.h"
#include "engine/error.h"
#ifdef ELR_GPU_BENCH_VENDOR_PEERS
#include "bench/gpu/vendor_peers.h"
#endif

namespace elr::bench::gpu {

namespace {

std::string ms(double s) { return s > 0 ? fmt::format("{:.3f} ms", s * 1e3) : "-"; }

void print_row(const KernelRow& r) {
  if (!r.valid) {
    std::fprintf(stderr, "  %-34s %-56s %s\n", r.kernel.c_str(), r.shape.c_str(), r.error.c_str());
    return;
  }
  const std::string peer = r.vendor.empty() ? ""
                           : r.vendor_valid ? fmt::format("{} {} (x{:.2f})", r.vendor, ms(r.vendor_median_s), r.ratio())
                                            : fmt::format("{}: {}", r.vendor, r.vendor_error);
  std::fprintf(stderr, "  %-34s %-56s %10s  %s\n", r.kernel.c_str(), r.shape.c_str(), ms(r.median_s).c_str(),
               peer.c_str());
}

std::vector<KernelRow> run_kernels(const GpuBenchRequest& request) {
  cudaStream_t stream = nullptr;
  ELR_CUDA_CHECK(cudaStreamCreate(&stream));
  std::vector<KernelRow> rows;
  try {
    GpuKernelSuiteConfig c;
    c.cases = request.tiny ? tiny_network_cases() : kernels::network_cases(128, request.full, /*large=*/true);
    c.options.repeats = request.repeats;
    c.options.warmup = request.warmup;
#ifdef ELR_GPU_BENCH_VENDOR_PEERS
    VendorPeers peers(stream);
    c.vendor = [&peers](const kernels::OpCase& op) { return peers.peer(op); };
#endif
    c.stream = stream;
    c.on_row = print_row;
    std::fprintf(stderr, "bench: GPU kernels (%s) ...\n",
                 request.tiny ? "tiny shapes" : request.full ? "all shapes" : "quick subset");
    rows = run_gpu_kernel_suite(c);
  } catch (...) {
    cudaStreamDestroy(stream);
    throw;
  }
  ELR_CUDA_CHECK(cudaStreamSynchronize(stream));
  cudaStreamDestroy(stream);
  return rows;
}

std::vector<GpuStepRow> run_steps(const GpuBenchRequest& request) {
  std::vector<StepNet> nets;
  for (const StepNet& n : request.tiny ? std::vector<StepNet>{tiny_step_net()} : gpu_step_nets())
    if (request.nets.empty() || ("," + request.nets + ",").find("," + n.label + ",") != std::string::npos)
      nets.push_back(n);
  if (nets.empty())
    throw UserError(fmt::format(
        "--nets: no GPU step net matches '{}' (plain-20, resnet-20, resnet-56; --tiny: plain-4)", request.nets));
  std::vector<GpuStepRow> rows;
  for (const StepNet& n : nets) {
    std::fprintf(stderr, "bench: GPU step %s ...\n", n.label.c_str());
    rows.push_back(bench_gpu_step(n, request));
    const GpuStepRow& r = rows.back();
    std::fprintf(stderr, "  engine eager %s, graph %s%s, pytorch %s, stats+LR %s%s\n", ms(r.eager_median_s).c_str(),
                 ms(r.graph_median_s).c_str(), r.graph_active || r.graph_s.empty() ? "" : " (no graph)",
                 r.pytorch_s.empty() ? r.pytorch_error.c_str() : ms(r.pytorch_median_s).c_str(),
                 ms(r.stats_median_s).c_str(), r.engine_error.empty() ? "" : (": " + r.engine_error).c_str());
  }
  return rows;
}

}  // namespace

GpuBenchResults run_gpu_bench(const GpuBenchRequest& request) {
  const std::string why = cuda::no_device_reason();
  if (!why.empty()) throw UserError(why);
  GpuBenchResults results;
  results.device = query_device_info();
#ifdef ELR_GPU_BENCH_VENDOR_PEERS
  results.device.cudnn_version = VendorPeers::cudnn_version();
  results.device.cublas_version = VendorPeers::cublas_version();
#else
  results.device.cudnn_version = results.device.cublas_version = "none (no vendor peers in this build)";
#endif
  std::fprintf(stderr, "bench: %s (sm_%d%d, %d SMs), peak %.1f TFLOP/s FP32, %.0f GB/s\n", results.device.name.c_str(),
               results.device.cc_major, results.device.cc_minor, results.device.multiprocessors,
               results.device.peak_fp32_tflops, results.device.peak_hbm_gbs);
  if (request.steps) results.steps = run_steps(request);
  if (request.kernels) results.kernels = run_kernels(request);
  return results;
}

}  // namespace elr::bench::gpu
