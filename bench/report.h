// A benchmark sitting's results with the machine they came from, as JSON and as Markdown tables.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cpu/kernel_bench.h"
#include "bench/cpu/loader_bench.h"
#include "bench/cpu/step_bench.h"
#include "bench/gpu_hook.h"

namespace elr::bench {

struct MachineInfo {
  std::string cpu_model;      // /proc/cpuinfo "model name"
  std::string vendor;         // /proc/cpuinfo "vendor_id"
  double cpu_mhz = 0;         // /proc/cpuinfo "cpu MHz" (the nominal clock in a VM)
  bool avx512 = false;
  int cores = 0;              // online logical CPUs
  int threads = 0;            // threads the benchmark used
  std::string compiler;
  std::string date;           // YYYY-MM-DD
  std::string time;           // ISO 8601, local
  std::string git_revision;
  double peak_gflops = 0;     // assumed FP32 peak for `threads` cores
  std::string peak_note;      // how the peak was derived
  double copy_gbs = 0;        // measured DRAM copy bandwidth (read + write), all threads
};

// Reads /proc/cpuinfo and the build; the peak is threads x FP32 FLOP/cycle x clock, with 32 FLOP per
// cycle on AMD before Zen 5 (AVX-512 on two 256-bit FMA pipes) and 64 on Zen 5 and Intel (two
// 512-bit FMA units), unless peak_override > 0.
MachineInfo machine_info(int threads, double peak_override);
double measure_copy_bandwidth_gbs();  // a 256 MiB copy with the OpenMP threads, best of 3

struct BenchReport {
  MachineInfo machine;
  std::string suite;
  bool full = false;
  bool tiny = false;  // GPU suites at tiny shapes (`--tiny`): a smoke run, its times mean nothing
  int repeats = 0, warmup = 0;
  std::vector<KernelRow> kernels;
  std::vector<StepRow> steps;
  std::vector<LoaderRow> loader;  // the image-folder loader, one row per thread count
  double load_avg_start = 0, load_avg_end = 0;
  bool has_gpu = false;  // a GPU suite ran: `gpu` holds its device and rows
  GpuBenchResults gpu;
  int validation_failures() const;  // CPU and GPU kernel rows
};

nlohmann::json to_json(const BenchReport& r);
std::string to_markdown(const BenchReport& r);
std::string step_table_markdown(const std::vector<StepRow>& rows);
std::string kernel_table_markdown(const std::vector<KernelRow>& rows);
std::string loader_table_markdown(const std::vector<LoaderRow>& rows);
std::string gpu_step_table_markdown(const std::vector<GpuStepRow>& rows);
// "% of peak" columns from the device's peaks (empty when a peak is 0).
std::string gpu_kernel_table_markdown(const std::vector<KernelRow>& rows, const GpuDeviceInfo& device);

}  // namespace elr::bench
