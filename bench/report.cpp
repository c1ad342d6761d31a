#include "bench/report.h"
#include "engine/files.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>

namespace elr::bench {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::string ms(double s) { return s > 0 ? fmt::format("{:.2f}", s * 1e3) : "-"; }
std::string ms3(double s) { return s > 0 ? fmt::format("{:.3f}", s * 1e3) : "-"; }

}  // namespace

MachineInfo machine_info(int threads, double peak_override) {
  MachineInfo m;
  int cpu_family = -1;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (key == "model name" && m.cpu_model.empty()) m.cpu_model = value;
    if (key == "vendor_id" && m.vendor.empty()) m.vendor = value;
    if (key == "cpu MHz" && m.cpu_mhz == 0) m.cpu_mhz = std::atof(value.c_str());
    if (key == "flags" && value.find("avx512f") != std::string::npos) m.avx512 = true;
    if (key == "cpu family" && cpu_family < 0) cpu_family = std::atoi(value.c_str());
  }
  m.cores = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  m.threads = threads;
#if defined(__clang__)
  m.compiler = fmt::format("clang {}", __clang_version__);
#elif defined(__GNUC__)
  m.compiler = fmt::format("gcc {}", __VERSION__);
#else
  m.compiler = "unknown";
#endif
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::localtime(&t));
  m.date = buf;
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&t));
  m.time = buf;
  m.git_revision = git_revision();
  if (peak_override > 0) {
    m.peak_gflops = peak_override;
    m.peak_note = "given with --peak-gflops";
  } else {
    // AMD before Zen 5 (family 0x1A = 26) runs AVX-512 on two 256-bit FMA pipes; Zen 5 and Intel
    // server cores have two 512-bit FMA units.
    const bool half_width = m.vendor == "AuthenticAMD" && cpu_family < 26;
    const int flop_per_cycle = m.avx512 ? (half_width ? 32 : 64) : 32;
    m.peak_gflops = threads * flop_per_cycle * m.cpu_mhz * 1e-3;
    m.peak_note = fmt::format("{} cores x {} FP32 FLOP/cycle ({}) x {:.0f} MHz (cpuinfo clock; boost not counted)",
                              threads, flop_per_cycle,
                              m.avx512 ? (half_width ? "AVX-512 on two 256-bit FMA pipes" : "two 512-bit FMA units")
                                       : "two 256-bit FMA units",
                              m.cpu_mhz);
  }
  return m;
}

double measure_copy_bandwidth_gbs() {
  const size_t n = (256u << 20) / sizeof(float) / 2;
  std::vector<float> a(n, 1.0f), b(n, 0.0f);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) b[i] = a[i];
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * sizeof(float) / s * 1e-9);
  }
  return best;
}

int BenchReport::validation_failures() const {
  return bench::validation_failures(kernels) + bench::validation_failures(gpu.kernels);
}

namespace {

std::string cuda_version(int v) { return v > 0 ? fmt::format("{}.{}", v / 1000, (v % 1000) / 10) : "?"; }

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// The fields a CPU and a GPU kernel row share: what ran, its validation, and its time or error.
nlohmann::json kernel_row_json(const KernelRow& k) {
  nlohmann::json row = {{"kernel", k.kernel}, {"shape", k.shape},   {"nets", k.nets}, {"valid", k.valid},
                        {"max_rel_error", number(k.max_rel_error)}, {"flop", k.flop}, {"bytes", k.bytes}};
  if (k.valid) {
    row["median_s"] = k.median_s;
    row["min_s"] = k.min_s;
    row["repeats"] = k.repeats;
  } else {
    row["error"] = k.error;
  }
  return row;
}

nlohmann::json gpu_to_json(const GpuBenchResults& g) {
  auto opt = [&](bool present, double v) { return present ? number(v) : nlohmann::json(nullptr); };
  const GpuDeviceInfo& d = g.device;
  nlohmann::json j;
  j["device"] = {{"name", d.name}, {"index", d.index}, {"compute_capability", fmt::format("{}.{}", d.cc_major, d.cc_minor)},
                 {"multiprocessors", d.multiprocessors}, {"sm_clock_mhz", d.sm_clock_mhz},
                 {"memory_clock_mhz", d.mem_clock_mhz}, {"bus_width_bits", d.bus_width_bits}, {"l2_bytes", d.l2_bytes},
                 {"total_memory_bytes", d.total_memory}, {"driver", cuda_version(d.driver_version)},
                 {"runtime", cuda_version(d.runtime_version)}, {"toolkit", cuda_version(d.toolkit_version)},
                 {"cudnn", d.cudnn_version}, {"cublas", d.cublas_version},
                 {"peak_fp32_tflops", d.peak_fp32_tflops}, {"peak_hbm_gbs", d.peak_hbm_gbs}, {"peak_note", d.peak_note}};
  nlohmann::json kernels = nlohmann::json::array();
  for (const KernelRow& k : g.kernels) {
    nlohmann::json row = kernel_row_json(k);
    if (k.valid) {
      row["gbs"] = k.gbs();
      if (d.peak_hbm_gbs > 0) row["hbm_peak_share"] = k.gbs() / d.peak_hbm_gbs;
      if (k.flop > 0) {
        row["tflops"] = k.tflops();
        if (d.peak_fp32_tflops > 0) row["fp32_peak_share"] = k.tflops() / d.peak_fp32_tflops;
      }
    }
    if (!k.vendor.empty()) {
      row["vendor"] = k.vendor;
      row["vendor_valid"] = k.vendor_valid;
      if (k.vendor_valid) {
        row["vendor_median_s"] = k.vendor_median_s;
        row["vendor_min_s"] = k.vendor_min_s;
        row["vendor_max_rel_error"] = number(k.vendor_max_rel_error);
        row["ratio_ours_over_vendor"] = opt(k.ratio() > 0, k.ratio());
      } else {
        row["vendor_error"] = k.vendor_error;
      }
    }
    kernels.push_back(row);
  }
  j["kernels"] = kernels;
  nlohmann::json steps = nlohmann::json::array();
  for (const GpuStepRow& s : g.steps)
    steps.push_back({{"net", s.net}, {"description", s.description}, {"batch", s.batch},
                     {"engine_eager_median_s", opt(!s.eager_s.empty(), s.eager_median_s)},
                     {"engine_eager_min_s", opt(!s.eager_s.empty(), s.eager_min_s)},
                     {"engine_graph_median_s", opt(!s.graph_s.empty(), s.graph_median_s)},
                     {"engine_graph_min_s", opt(!s.graph_s.empty(), s.graph_min_s)},
                     {"graph_active", s.graph_active}, {"graph_note", s.graph_note}, {"engine_error", s.engine_error},
                     {"pytorch_median_s", opt(!s.pytorch_s.empty(), s.pytorch_median_s)},
                     {"pytorch_min_s", opt(!s.pytorch_s.empty(), s.pytorch_min_s)},
                     {"pytorch_version", s.pytorch_version}, {"pytorch_error", s.pytorch_error},
                     {"ratio_graph_over_pytorch", opt(s.graph_ratio() > 0, s.graph_ratio())},
                     {"ratio_eager_over_pytorch", opt(s.eager_ratio() > 0, s.eager_ratio())},
                     {"stats_lr_control_median_s", s.stats_median_s}, {"stats_lr_control_min_s", s.stats_min_s},
                     {"stats_lr_control_share_of_graph_step", opt(s.stats_share() > 0, s.stats_share())},
                     {"parameter_tensors", s.parameter_tensors},
                     {"engine_eager_steps_s", s.eager_s}, {"engine_graph_steps_s", s.graph_s},
                     {"pytorch_steps_s", s.pytorch_s}});
  j["steps"] = steps;
  return j;
}

}  // namespace

nlohmann::json to_json(const BenchReport& r) {
  const MachineInfo& m = r.machine;
  nlohmann::json j;
  j["machine"] = {{"cpu_model", m.cpu_model}, {"vendor", m.vendor}, {"cpu_mhz", m.cpu_mhz}, {"avx512", m.avx512},
                  {"cores", m.cores}, {"threads", m.threads}, {"compiler", m.compiler}, {"date", m.date},
                  {"time", m.time}, {"git_revision", m.git_revision}, {"peak_gflops", m.peak_gflops},
                  {"peak_note", m.peak_note}, {"copy_bandwidth_gbs", m.copy_gbs}};
  j["suite"] = r.suite;
  j["full"] = r.full;
  if (r.tiny) j["tiny"] = true;
  j["repeats"] = r.repeats;
  j["warmup"] = r.warmup;
  j["load_avg_start"] = r.load_avg_start;
  j["load_avg_end"] = r.load_avg_end;
  j["validation_failures"] = r.validation_failures();
  nlohmann::json steps = nlohmann::json::array();
  for (const StepRow& s : r.steps)
    steps.push_back({{"net", s.net}, {"description", s.description}, {"batch", s.batch}, {"threads", s.threads},
                     {"engine_median_s", s.engine_median_s}, {"engine_min_s", s.engine_min_s},
                     {"engine_forward_median_s", s.forward_median_s}, {"engine_backward_median_s", s.backward_median_s},
                     {"engine_update_median_s", s.update_median_s}, {"stats_lr_control_median_s", s.stats_median_s},
                     {"stats_lr_control_share", s.stats_share},
                     {"stats_lr_control_min_s", s.stats_min_s}, {"stats_lr_control_share_of_min", s.stats_share_min},
                     {"ranks", s.ranks}, {"all_reduce_median_s", s.all_reduce_median_s},
                     {"all_reduce_share", s.all_reduce_share},
                     {"pytorch_median_s", s.pytorch_s.empty() ? nlohmann::json(nullptr) : number(s.pytorch_median_s)},
                     {"pytorch_min_s", s.pytorch_s.empty() ? nlohmann::json(nullptr) : number(s.pytorch_min_s)},
                     {"ratio_engine_over_pytorch", s.pytorch_s.empty() ? nlohmann::json(nullptr) : number(s.ratio)},
                     {"ratio_of_minima",
                      s.pytorch_s.empty() ? nlohmann::json(nullptr) : number(s.engine_min_s / s.pytorch_min_s)},
                     {"pytorch_version", s.pytorch_version}, {"pytorch_error", s.pytorch_error},
                     {"engine_steps_s", s.engine_s}, {"pytorch_steps_s", s.pytorch_s},
                     {"load_avg_start", s.load_avg_start}, {"load_avg_end", s.load_avg_end}});
  j["steps"] = steps;
  nlohmann::json kernels = nlohmann::json::array();
  for (const KernelRow& k : r.kernels) {
    nlohmann::json row = kernel_row_json(k);
    row["load_avg"] = k.load_avg;
    if (k.valid) {
      if (k.flop > 0) row["gflops"] = k.gflops();
      if (k.peak_gflops > 0) row["peak_share"] = k.peak_share();
      if (k.bytes > 0 && k.flop == 0) row["gbs"] = k.gbs();
    }
    kernels.push_back(row);
  }
  nlohmann::json loader = nlohmann::json::array();
  for (const LoaderRow& l : r.loader)
    loader.push_back({{"description", l.description}, {"threads", l.threads}, {"images", l.images},
                      {"median_s", l.median_s}, {"images_per_s", l.images_per_s()},
                      {"images_per_s_per_core", l.images_per_s_per_core()}, {"pass_s", l.pass_s}});
  j["loader"] = loader;
  j["kernels"] = kernels;
  if (r.has_gpu) j["gpu"] = gpu_to_json(r.gpu);
  return j;
}

std::string step_table_markdown(const std::vector<StepRow>& rows) {
  // Steps over several ranks (mpirun -np N elrscope bench) add the gradient all-reduce's column.
  const bool ranks = std::any_of(rows.begin(), rows.end(), [](const StepRow& r) { return r.ranks > 1; });
  std::string s =
      "| net | engine ms (median / min) | PyTorch ms (median / min) | engine / PyTorch (medians; minima) | forward / backward / update ms "
      "| stats + LR control: median share (ms) / min share | load |";
  s += ranks ? " all-reduce: median share (ms) |\n|---|---|---|---|---|---|---|---|\n" : "\n|---|---|---|---|---|---|---|\n";
  for (const StepRow& r : rows) {
    const std::string torch = r.pytorch_s.empty() ? fmt::format("- ({})", r.pytorch_error)
                                                   : fmt::format("{} / {}", ms(r.pytorch_median_s), ms(r.pytorch_min_s));
    s += fmt::format("| {} | {} / {} | {} | {} | {} / {} / {} | {:.2f}% ({} ms) / {:.3f}% | {:.1f}-{:.1f} |\n", r.description,
                     ms(r.engine_median_s), ms(r.engine_min_s), torch,
                     r.pytorch_s.empty() ? std::string("-")
                                         : fmt::format("**{:.2f}x**; {:.2f}x", r.ratio, r.engine_min_s / r.pytorch_min_s),
                     ms(r.forward_median_s), ms(r.backward_median_s), ms(r.update_median_s), 100.0 * r.stats_share,
                     ms3(r.stats_median_s), 100.0 * r.stats_share_min, r.load_avg_start, r.load_avg_end);
    if (ranks) {
      s.pop_back();  // the row's newline
      s += fmt::format(" {:.2f}% ({} ms) on {} ranks |\n", 100.0 * r.all_reduce_share, ms3(r.all_reduce_median_s),
                       r.ranks);
    }
  }
  return s;
}

std::string kernel_table_markdown(const std::vector<KernelRow>& rows) {
  std::string s =
      "| kernel | shape | nets | median ms | min ms | GFLOP/s | % peak | GB/s | max rel. error | load |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const KernelRow& k : rows) {
    if (!k.valid) {
      s += fmt::format("| {} | {} | {} | **{}** | | | | | | |\n", k.kernel, k.shape, k.nets, k.error);
      continue;
    }
    s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {:.1e} | {:.1f} |\n", k.kernel, k.shape, k.nets,
                     ms3(k.median_s), ms3(k.min_s), k.flop > 0 ? fmt::format("{:.1f}", k.gflops()) : "",
                     k.peak_gflops > 0 ? fmt::format("{:.0f}%", 100.0 * k.peak_share()) : "",
                     k.flop == 0 ? fmt::format("{:.1f}", k.gbs()) : "", k.max_rel_error, k.load_avg);
  }
  return s;
}

std::string loader_table_markdown(const std::vector<LoaderRow>& rows) {
  std::string s = "| images | threads | ms per pass (median) | images/s | images/s per core |\n|---|---|---|---|---|\n";
  for (const LoaderRow& l : rows)
    s += fmt::format("| {} | {} | {} | {:.1f} | **{:.1f}** |\n", l.description, l.threads, ms(l.median_s),
                     l.images_per_s(), l.images_per_s_per_core());
  return s;
}

std::string gpu_step_table_markdown(const std::vector<GpuStepRow>& rows) {
  auto pair = [](const std::vector<double>& v, double median, double min) {
    return v.empty() ? std::string("-") : fmt::format("{} / {}", ms3(median), ms3(min));
  };
  std::string s =
      "| net | engine eager ms (median / min) | engine CUDA graph ms (median / min) | PyTorch eager ms (median / min) "
      "| graph / PyTorch | eager / PyTorch | stats + LR control: ms, share of the graph step | notes |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (const GpuStepRow& r : rows) {
    std::string notes;
    auto note = [&](const std::string& n) { notes += (notes.empty() ? "" : "; ") + n; };
    if (!r.engine_error.empty()) note("engine: " + r.engine_error);
    if (!r.graph_s.empty() && !r.graph_active) note("no graph: " + (r.graph_note.empty() ? std::string("?") : r.graph_note));
    if (r.pytorch_s.empty()) note("PyTorch: " + r.pytorch_error);
    else note("PyTorch " + r.pytorch_version);
    s += fmt::format("| {} | {} | {} | {} | {} | {} | {} ms, {} | {} |\n", r.description,
                     pair(r.eager_s, r.eager_median_s, r.eager_min_s), pair(r.graph_s, r.graph_median_s, r.graph_min_s),
                     pair(r.pytorch_s, r.pytorch_median_s, r.pytorch_min_s),
                     r.graph_ratio() > 0 ? fmt::format("**{:.2f}x**", r.graph_ratio()) : "-",
                     r.eager_ratio() > 0 ? fmt::format("{:.2f}x", r.eager_ratio()) : "-", ms3(r.stats_median_s),
                     r.stats_share() > 0 ? fmt::format("{:.2f}%", 100.0 * r.stats_share()) : "-", notes);
  }
  return s;
}

std::string gpu_kernel_table_markdown(const std::vector<KernelRow>& rows, const GpuDeviceInfo& device) {
  std::string s =
      "| kernel | shape | nets | median ms | min ms | TFLOP/s | % FP32 peak | GB/s | % HBM peak | peer | peer median ms "
      "| ours / peer | max rel. error |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const KernelRow& k : rows) {
    if (!k.valid) {
      s += fmt::format("| {} | {} | {} | **{}** | | | | | | | | | |\n", k.kernel, k.shape, k.nets, k.error);
      continue;
    }
    const std::string peer_time = k.vendor.empty() ? "" : k.vendor_valid ? ms3(k.vendor_median_s) : "**" + k.vendor_error + "**";
    s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {:.1f} | {} | {} | {} | {} | {:.1e} |\n", k.kernel, k.shape,
                     k.nets, ms3(k.median_s), ms3(k.min_s), k.flop > 0 ? fmt::format("{:.2f}", k.tflops()) : "",
                     k.flop > 0 && device.peak_fp32_tflops > 0 ? fmt::format("{:.0f}%", 100.0 * k.tflops() / device.peak_fp32_tflops) : "",
                     k.gbs(), device.peak_hbm_gbs > 0 ? fmt::format("{:.0f}%", 100.0 * k.gbs() / device.peak_hbm_gbs) : "",
                     k.vendor, peer_time, k.ratio() > 0 ? fmt::format("**{:.2f}x**", k.ratio()) : "", k.max_rel_error);
  }
  return s;
}

namespace {

std::string gpu_markdown(const BenchReport& r) {
  const MachineInfo& m = r.machine;
  const GpuDeviceInfo& d = r.gpu.device;
  std::string s = fmt::format("# elrscope GPU benchmark, {}\n\n", m.date);
  s += fmt::format(
      "| | |\n|---|---|\n| GPU | {} (sm_{}{}, {} SMs, {:.0f} GiB, L2 {:.0f} MiB) |\n| peaks | {} |\n"
      "| driver / runtime / toolkit (CUDA) | {} / {} / {} |\n| cuDNN / cuBLAS | {} / {} |\n| host CPU | {} ({} logical CPUs) |\n"
      "| compiler | {} |\n| git revision | {} |\n| time | {} |\n| suite | {}{}, {} repeats after {} warm-up |\n\n",
      d.name, d.cc_major, d.cc_minor, d.multiprocessors, d.total_memory / double(1 << 30), d.l2_bytes / double(1 << 20),
      d.peak_note, cuda_version(d.driver_version), cuda_version(d.runtime_version), cuda_version(d.toolkit_version),
      d.cudnn_version, d.cublas_version, m.cpu_model, m.cores, m.compiler, m.git_revision, m.time, r.suite,
      r.tiny ? " (tiny shapes)" : r.full ? " (all shapes)" : " (quick subset)", r.repeats, r.warmup);
  if (!r.gpu.steps.empty()) {
    s += fmt::format("## Training step on the GPU (batch {}, synthetic inputs), engine and PyTorch interleaved\n\n",
                     r.gpu.steps.front().batch);
    s += "The step: forward, cross-entropy, backward, per-layer statistics, LR control, SGD (lr 0.1, momentum 0.9), "
         "each step timed from its launch until its results are on the host. PyTorch runs eager on the same GPU with "
         "TF32 off (FP32 against FP32). Below 1 means the engine is faster. \"stats + LR control\" is "
         "tensor_stats_cuda + lr_control_cuda over the net's parameter list alone (CUDA events), as a share of the "
         "graph step.\n\n";
    s += gpu_step_table_markdown(r.gpu.steps) + "\n";
  }
  if (!r.gpu.kernels.empty()) {
    s += "## GPU kernels (validated against the CPU reference, then timed with CUDA events; L2 flushed before each run)\n\n";
    s += "Ours and the peer (cuDNN, cuBLAS; cuDNN BN + a separate ReLU for the fused BN+ReLU) interleaved run by run on "
         "the same stream. TFLOP/s and % of the FP32 CUDA-core peak for convolutions and GEMMs; GB/s and % of the HBM "
         "peak over the minimal traffic (each input read once, each output written once). Per-layer CIFAR tensors fit "
         "in the L2, so there absolute time against the peer is the yardstick; % of peak is for the large shapes. "
         "ours / peer below 1 means ours is faster.\n\n";
    s += gpu_kernel_table_markdown(r.gpu.kernels, d);
    const int failures = validation_failures(r.gpu.kernels);
    if (failures > 0) s += fmt::format("\n**{} rows failed validation.**\n", failures);
  }
  return s;
}

}  // namespace

std::string to_markdown(const BenchReport& r) {
  if (r.has_gpu) return gpu_markdown(r);
  const MachineInfo& m = r.machine;
  std::string s = fmt::format("# elrscope CPU benchmark, {}\n\n", m.date);
  s += fmt::format(
      "| | |\n|---|---|\n| CPU | {} ({} logical CPUs{}) |\n| threads | {} (engine OpenMP, torch.set_num_threads) |\n"
      "| compiler | {} |\n| git revision | {} |\n| time | {} |\n| assumed FP32 peak | {:.0f} GFLOP/s: {} |\n"
      "| measured copy bandwidth | {:.1f} GB/s (read + write, 256 MiB) |\n| load average (1 min) | {:.2f} at start, "
      "{:.2f} at end |\n| suite | {}{}, {} repeats after {} warm-up |\n\n",
      m.cpu_model, m.cores, m.avx512 ? ", AVX-512" : "", m.threads, m.compiler, m.git_revision, m.time, m.peak_gflops,
      m.peak_note, m.copy_gbs, r.load_avg_start, r.load_avg_end, r.suite, r.full ? " (all shapes)" : " (quick subset)",
      r.repeats, r.warmup);
  if (!r.steps.empty()) {
    s += "## Training step (batch 128, synthetic inputs), engine and PyTorch interleaved\n\n";
    s += "The step: forward, cross-entropy, backward, per-layer statistics, LR control, SGD (lr 0.1, momentum 0.9). "
         "Engine / PyTorch below 1 means the engine is faster. \"stats + LR control\" is the share of the engine's "
         "step spent measuring every layer and choosing the learning rates.\n\n";
    s += step_table_markdown(r.steps) + "\n";
  }
  if (!r.loader.empty()) {
    s += "## Image-folder loader (JPEG decoding, random resized crop, flip, normalization)\n\n";
    s += "What the batch loader does for each training image of `--dataset imagefolder`, timed over passes "
         "of the whole generated folder (files in the page cache) with 1, 2, ... decoding threads.\n\n";
    s += loader_table_markdown(r.loader) + "\n";
  }
  if (!r.kernels.empty()) {
    s += "## CPU kernels (validated against a reference, then timed; caches flushed before each repeat)\n\n";
    s += "GFLOP/s and % of the assumed peak for convolutions; GB/s (minimal traffic: each input read once, each "
         "output written once) for the memory-bound kernels.\n\n";
    s += kernel_table_markdown(r.kernels);
    if (r.validation_failures() > 0) s += fmt::format("\n**{} rows failed validation.**\n", r.validation_failures());
  }
  return s;
}

}  // namespace elr::bench
