// `elrscope bench`: validated kernel timings and the whole training step against PyTorch, on the CPU
// and, when the program has the GPU suites (bench/gpu, registered through bench_gpu_hook.h), on a GPU.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include "bench/gpu_hook.h"
#include "bench/report.h"
#include "engine/comm.h"
#include "engine/error.h"
#include "engine/files.h"
#include "experiments/cli/commands.h"
#include "experiments/data/loader_bench_folder.h"

namespace elr {

namespace {

struct BenchCliConfig {
  std::string suite = "all";
  int repeats = 7;
  int warmup = 1;
  bool full = false;
  bool tiny = false;
  int threads = 2;
  int rounds = 3;
  int steps_per_round = 2;
  bool pytorch = true;
  std::string python = "/usr/bin/python3";
  std::string script;
  std::string nets;  // comma-separated step-net labels (empty: all)
  double peak_gflops = 0;
  std::string json_out, md_out;
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out) throw UserError(fmt::format("cannot write '{}'", path));
  out << text;
}

// The report's settings and the machine, before anything is measured.
bench::BenchReport start_report(const BenchCliConfig& c) {
  bench::BenchReport report;
  report.suite = c.suite;
  report.full = c.full;
  report.tiny = c.tiny;
  report.repeats = c.repeats;
  report.warmup = c.warmup;
  report.load_avg_start = bench::load_average_1min();
  report.machine = bench::machine_info(c.threads, c.peak_gflops);
  return report;
}

bool is_gpu_suite(const std::string& suite) { return suite == "gpu-kernels" || suite == "gpu-step" || suite == "gpu"; }

// The markdown and JSON outputs, and the exit code (1: a kernel row failed validation).
int finish(const bench::BenchReport& report, const BenchCliConfig& c) {
  if (!world().is_root()) return 0;  // several ranks: rank 0 reports for all
  const std::string md = bench::to_markdown(report);
  std::printf("%s", md.c_str());
  if (!c.md_out.empty()) write_text(c.md_out, md);
  if (!c.json_out.empty()) write_text(c.json_out, bench::to_json(report).dump(2) + "\n");
  if (report.validation_failures() > 0) {
    std::fprintf(stderr, "elrscope bench: %d kernel rows failed validation\n", report.validation_failures());
    return 1;
  }
  return 0;
}

// --suite gpu-kernels | gpu-step | gpu: the registered GPU suites (exit 2 without them or without a GPU).
int run_gpu_bench(const BenchCliConfig& c) {
  const bench::GpuBenchRunner runner = bench::gpu_bench_runner();
  if (!runner)
    throw UserError(fmt::format("--suite {}: this build has no GPU suite (built without CUDA/cuDNN)", c.suite));
  bench::GpuBenchRequest request;
  request.kernels = c.suite == "gpu-kernels" || c.suite == "gpu";
  request.steps = c.suite == "gpu-step" || c.suite == "gpu";
  request.repeats = c.repeats;
  request.warmup = c.warmup;
  request.full = c.full;
  request.tiny = c.tiny;
  request.rounds = c.rounds;
  request.steps_per_round = c.steps_per_round;
  request.nets = c.nets;
  request.pytorch = c.pytorch;
  request.python = c.python;
  request.script = c.script;
  request.threads = c.threads;

  bench::BenchReport report = start_report(c);
  report.gpu = runner(request);  // UserError "no CUDA device: ..." without a GPU
  report.has_gpu = true;
  report.load_avg_end = bench::load_average_1min();
  return finish(report, c);
}

int run_bench(const BenchCliConfig& c) {
  if (c.suite != "cpu-kernels" && c.suite != "cpu-step" && c.suite != "cpu-loader" && c.suite != "all" &&
      !is_gpu_suite(c.suite))
    throw UserError(fmt::format(
        "--suite: unknown suite '{}' (expected cpu-kernels, cpu-step, cpu-loader, all, gpu-kernels, gpu-step or gpu)",
        c.suite));
  if (c.repeats < 1) throw UserError(fmt::format("--repeats: must be at least 1, got {}", c.repeats));
  if (c.warmup < 0) throw UserError(fmt::format("--warmup: must not be negative, got {}", c.warmup));
  if (c.threads < 1) throw UserError(fmt::format("--threads: must be at least 1, got {}", c.threads));
  if (c.rounds < 1 || c.steps_per_round < 1) throw UserError("--rounds and --steps-per-round: must be at least 1");
  if (c.tiny && !is_gpu_suite(c.suite)) throw UserError("--tiny: only with the GPU suites (gpu-kernels, gpu-step, gpu)");
  // Several ranks (mpirun -np N elrscope bench --suite cpu-step): the data-parallel step and the share
  // of it spent in the gradient all-reduce (docs/scale.md).
  Communicator& ranks = world();
  if (ranks.size() > 1 && c.suite != "cpu-step")
    throw UserError(fmt::format("--suite: only cpu-step runs on several ranks, not {}", c.suite));
  const bool root = ranks.is_root();
  omp_set_num_threads(c.threads);
  if (is_gpu_suite(c.suite)) return run_gpu_bench(c);

  bench::BenchReport report = start_report(c);
  report.machine.copy_gbs = bench::measure_copy_bandwidth_gbs();
  if (root)
    std::fprintf(stderr, "bench: %s, %d threads, assumed peak %.0f GFLOP/s, load %.2f\n",
                 report.machine.cpu_model.c_str(), c.threads, report.machine.peak_gflops, report.load_avg_start);

  if (c.suite == "cpu-step" || c.suite == "all") {
    bench::StepBenchConfig sc;
    sc.threads = c.threads;
    sc.rounds = c.rounds;
    sc.steps_per_round = c.steps_per_round;
    sc.warmup = c.warmup;
    sc.pytorch = c.pytorch;
    sc.ranks = &ranks;
    sc.python = c.python;
    sc.script = c.script;
    std::vector<bench::StepNet> nets;
    for (const bench::StepNet& n : bench::default_step_nets()) {
      const std::string short_label = n.label.substr(0, n.label.find(' '));
      if (c.nets.empty() || ("," + c.nets + ",").find("," + short_label + ",") != std::string::npos) nets.push_back(n);
    }
    if (nets.empty()) throw UserError(fmt::format("--nets: no step net matches '{}'", c.nets));
    for (const bench::StepNet& n : nets) {
      if (root) std::fprintf(stderr, "bench: step %s ...\n", n.label.c_str());
      report.steps.push_back(bench::bench_step(n, sc));
      const bench::StepRow& r = report.steps.back();
      if (!root) continue;
      std::fprintf(stderr, "  engine %.1f ms, pytorch %s, stats+LR %.2f%%\n", r.engine_median_s * 1e3,
                   r.pytorch_s.empty() ? r.pytorch_error.c_str() : fmt::format("{:.1f} ms, ratio {:.2f}", r.pytorch_median_s * 1e3, r.ratio).c_str(),
                   100 * r.stats_share);
    }
  }
  if (c.suite == "cpu-step" || c.suite == "cpu-loader" || c.suite == "all") {
    std::vector<int> threads = {1};
    if (c.threads > 1) threads.push_back(c.threads);
    std::fprintf(stderr, "bench: image-folder loader ...\n");
    const LoaderBenchFolder folder(LoaderBenchFolderSpec{});
    // A pass decodes the whole folder: three are plenty.
    report.loader = bench::bench_loader(threads, std::min(c.repeats, 3),
                                        [&](int t) { return folder.loader(t); });
    for (const bench::LoaderRow& r : report.loader)
      std::fprintf(stderr, "  %d threads: %.1f images/s, %.1f per core\n", r.threads, r.images_per_s(),
                   r.images_per_s_per_core());
  }
  if (c.suite == "cpu-kernels" || c.suite == "all") {
    bench::KernelSuiteConfig kc;
    kc.full = c.full;
    kc.options.repeats = c.repeats;
    kc.options.warmup = c.warmup;
    kc.options.peak_gflops = report.machine.peak_gflops;
    kc.on_row = [](const bench::KernelRow& r) {
      if (r.valid)
        std::fprintf(stderr, "  %-32s %-60s %9.3f ms\n", r.kernel.c_str(), r.shape.c_str(), r.median_s * 1e3);
      else
        std::fprintf(stderr, "  %-32s %-60s %s\n", r.kernel.c_str(), r.shape.c_str(), r.error.c_str());
    };
    std::fprintf(stderr, "bench: CPU kernels (%s) ...\n", c.full ? "all shapes" : "quick subset");
    report.kernels = bench::run_kernel_suite(kc);
  }
  report.load_avg_end = bench::load_average_1min();
  return finish(report, c);
}

}  // namespace

Command register_bench_command(CLI::App& parent) {
  auto cfg = std::make_shared<BenchCliConfig>();
  CLI::App* app = parent.add_subcommand(
      "bench", "benchmarks: validated kernel timings and the training step against PyTorch (docs/benchmarks.md)");
  app->add_option("--suite", cfg->suite,
                  "cpu-kernels | cpu-step (with the image-folder loader) | cpu-loader | all (the CPU suites) | "
                  "gpu-kernels | gpu-step | gpu (both GPU suites; builds with CUDA and cuDNN)")
      ->capture_default_str();
  app->add_option("--repeats", cfg->repeats, "timed repeats per kernel (median and min reported)")->capture_default_str();
  app->add_option("--warmup", cfg->warmup, "untimed calls (kernels) or steps (training step) first")->capture_default_str();
  app->add_flag("--full", cfg->full, "every deduplicated kernel shape (default: a representative subset)");
  app->add_flag("--tiny", cfg->tiny,
                "GPU suites: tiny shapes and a tiny step net (a smoke run; scripts/gpu-check.sh --dry-run)");
  app->add_option("--threads", cfg->threads, "threads of the engine and of PyTorch")->capture_default_str();
  app->add_option("--rounds", cfg->rounds, "training step: interleaved rounds (engine block, PyTorch block)")
      ->capture_default_str();
  app->add_option("--steps-per-round", cfg->steps_per_round, "training step: timed steps per block")->capture_default_str();
  app->add_option("--nets", cfg->nets,
                  "training step: comma-separated nets (plain-20,resnet-20,resnet-56,plain-10; GPU: the first three)");
  app->add_flag("!--no-pytorch", cfg->pytorch, "training step: engine only");
  app->add_option("--python", cfg->python, "interpreter with torch for the PyTorch peer")->capture_default_str();
  app->add_option("--pytorch-script", cfg->script, "the peer script (default: bench/pytorch_train_step.py)");
  app->add_option("--peak-gflops", cfg->peak_gflops, "FP32 peak for the % of peak (default: from /proc/cpuinfo)");
  app->add_option("--json", cfg->json_out, "write the results as JSON here (e.g. bench/results/DATE-cpu.json)");
  app->add_option("--md", cfg->md_out, "write the Markdown tables here (e.g. bench/results/DATE-cpu.md)");
  app->footer("Exit codes: 0 done, 1 a kernel failed validation (its row shows the error instead of a time), "
              "2 bad input, or a GPU suite without a GPU or in a build without the GPU suites.");
  return {app, [cfg] { return run_bench(*cfg); }};
}

}  // namespace elr
