// One GPU kernel row: validate ours (and the vendor peer) against the reference, then time both with
// CUDA events on the suite's stream, interleaved run by run, the L2 flushed before each timed run.
#pragma once
#include <cuda_runtime_api.h>

#include <functional>
#include <string>
#include <vector>

#include "bench/cpu/kernel_bench.h"
#include "bench/gpu/device_buffer.h"
#include "bench/gpu/gpu_bench.h"

namespace elr::bench::gpu {

struct RowSpec {
  std::string kernel, shape, nets;
  double flop = 0, bytes = 0;
  std::function<void()> ours;             // enqueues our kernel on the stream
  std::function<void()> vendor;           // the peer doing the same operation (empty: none)
  std::string vendor_name;
  std::function<void()> before_validation;  // poison the outputs, restore in/out state
  std::function<double()> check;          // download and compare; throws ValidationError
  std::function<void()> before_timing;    // optional: the timing inputs (e.g. a dense dy)
};

class RowRunner {
 public:
  RowRunner(Stream stream, const GpuBenchOptions& options);
  ~RowRunner();
  RowRunner(const RowRunner&) = delete;
  RowRunner& operator=(const RowRunner&) = delete;

  Stream stream() const { return stream_; }
  GpuKernelRow run(const RowSpec& spec);

 private:
  double validate(const RowSpec& spec, const std::function<void()>& call);
  double time_once(const std::function<void()>& call);  // seconds
  void flush_l2();

  Stream stream_;
  GpuBenchOptions options_;
  DeviceBuffer<char> flush_buffer_;
  int flush_value_ = 0;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// Compares float outputs with a double reference: max |got - ref| / max |ref| per output, every
// element (a NaN or an unwritten, poisoned element fails).
class Checker {
 public:
  Checker(std::string what, double tolerance) : what_(std::move(what)), tolerance_(tolerance) {}
  void check(const char* output, const float* got, const double* ref, int64_t n);
  void check(const char* output, const std::vector<float>& got, const std::vector<double>& ref);
  double worst() const { return worst_; }

 private:
  std::string what_;
  double tolerance_;
  double worst_ = 0;
};

// (random_floats, random_labels and to_double: experiments/bench.h)
std::vector<float> to_float(const std::vector<double>& v);

}  // namespace elr::bench::gpu
