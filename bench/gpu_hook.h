// The GPU suites of `elrscope bench` (gpu-kernels, gpu-step) live in bench/gpu/, which needs nvcc
// (and cuDNN for the kernel rows' vendor peers); the `elr` library links no CUDA code. This header
// is the plain C++ meeting point: the results the report renders (kernel rows are
// bench/kernel_row.h's, as on the CPU), and a runner that the GPU suite registers when it is linked
// into the program. Without it, gpu_bench_runner() is null and `elrscope bench` says so.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bench/kernel_row.h"

namespace elr::bench {

// The GPU a sitting ran on, with the peaks the "% of peak" columns use.
struct GpuDeviceInfo {
  std::string name;
  int index = 0;
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
  double sm_clock_mhz = 0;   // peak SM clock
  double mem_clock_mhz = 0;  // peak memory clock
  int bus_width_bits = 0;
  int64_t l2_bytes = 0;
  int64_t total_memory = 0;
  int driver_version = 0;    // cudaDriverGetVersion, e.g. 13000
  int runtime_version = 0;   // cudaRuntimeGetVersion
  int toolkit_version = 0;   // CUDART_VERSION the suite was compiled with
  std::string cudnn_version, cublas_version;
  // FP32 on CUDA cores: SMs x clock x 128 FMA lanes x 2; HBM: memory clock x bus width x 2 (DDR).
  double peak_fp32_tflops = 0;
  double peak_hbm_gbs = 0;
  std::string peak_note;
};

// One net's training step on the GPU: the engine eager and as a CUDA graph, PyTorch eager (TF32
// off) on the same GPU, and the statistics + LR-control kernels alone.
struct GpuStepRow {
  std::string net;          // "resnet-20"
  std::string description;  // "resnet-20 (width 16), batch 128, 3x32x32"
  int batch = 0;
  std::vector<double> eager_s, graph_s, pytorch_s;  // every timed step
  double eager_median_s = 0, eager_min_s = 0;
  double graph_median_s = 0, graph_min_s = 0;
  bool graph_active = false;
  std::string graph_note;   // why the graph side replayed no graph
  std::string engine_error; // why the engine has no time
  double pytorch_median_s = 0, pytorch_min_s = 0;
  std::string pytorch_version, pytorch_error;
  double stats_median_s = 0, stats_min_s = 0;  // tensor_stats_cuda + lr_control_cuda over the parameters
  int parameter_tensors = 0;
  double graph_ratio() const { return graph_median_s > 0 && pytorch_median_s > 0 ? graph_median_s / pytorch_median_s : 0; }
  double eager_ratio() const { return eager_median_s > 0 && pytorch_median_s > 0 ? eager_median_s / pytorch_median_s : 0; }
  // statistics + LR control / the graph step (the production path), medians
  double stats_share() const { return graph_median_s > 0 ? stats_median_s / graph_median_s : 0; }
};

struct GpuBenchRequest {
  bool kernels = false;  // --suite gpu-kernels (or gpu)
  bool steps = false;    // --suite gpu-step (or gpu)
  int repeats = 7, warmup = 1;
  bool full = false;     // kernels: every shape (default: a representative subset)
  bool tiny = false;     // tiny shapes and a tiny step net (a smoke run; the CPU execution layer's dry run)
  int rounds = 3, steps_per_round = 2;
  std::string nets;      // steps: comma-separated short labels (empty: all)
  bool pytorch = true;
  std::string python, script;
  int threads = 2;       // the PyTorch peer's CPU threads
};

struct GpuBenchResults {
  GpuDeviceInfo device;
  std::vector<KernelRow> kernels;  // ours against the reference and the vendor peer, timed with CUDA events
  std::vector<GpuStepRow> steps;
};

// Throws elr::UserError "no CUDA device: <reason>" when there is no usable GPU.
using GpuBenchRunner = GpuBenchResults (*)(const GpuBenchRequest& request);
void set_gpu_bench_runner(GpuBenchRunner runner);
GpuBenchRunner gpu_bench_runner();  // null: this program was built without the GPU suite

}  // namespace elr::bench
