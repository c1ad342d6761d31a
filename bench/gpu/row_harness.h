// One GPU kernel row: validate ours (and the vendor peer) against the reference, then time both with
// CUDA events on the suite's stream, interleaved run by run, the L2 flushed before each timed run.
#pragma once
#include <cuda_runtime_api.h>

#include <functional>
#include <string>
#include <vector>

#include "bench/gpu/device_buffer.h"
#include "bench/gpu/event_timer.h"
#include "bench/gpu/gpu_bench.h"

namespace elr::bench::gpu {

struct RowSpec {
  std::string kernel, shape, nets;
  double flop = 0, bytes = 0;
  std::function<void()> ours;             // enqueues our kernel on the stream
  std::function<void()> vendor;           // the peer doing the same operation (empty: none)
  std::string vendor_name;
  std::function<void()> before_validation;  // poison the outputs, restore in/out state
  std::function<double()> check;          // download and validate; throws ValidationError
  std::function<void()> before_timing;    // optional: the timing inputs (e.g. a dense dy)
};

class RowRunner {
 public:
  RowRunner(Stream stream, const GpuBenchOptions& options);
  ~RowRunner();
  RowRunner(const RowRunner&) = delete;
  RowRunner& operator=(const RowRunner&) = delete;

  Stream stream() const { return stream_; }
  KernelRow run(const RowSpec& spec);

 private:
  double validate(const RowSpec& spec, const std::function<void()>& call);
  double time_once(const std::function<void()>& call);  // seconds
  void flush_l2();

  Stream stream_;
  GpuBenchOptions options_;
  DeviceBuffer<char> flush_buffer_;
  int flush_value_ = 0;
  EventTimer timer_;
};

}  // namespace elr::bench::gpu
