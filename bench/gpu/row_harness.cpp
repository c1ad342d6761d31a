#include "bench/gpu/row_harness.h"

#include <algorithm>

namespace elr::bench::gpu {

namespace {

size_t flush_size(const GpuBenchOptions& o) {
  if (!o.flush_l2) return 0;
  if (o.flush_bytes > 0) return o.flush_bytes;
  int device = 0, l2 = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) == cudaSuccess && cudaGetDeviceProperties(&prop, device) == cudaSuccess) l2 = prop.l2CacheSize;
  cudaGetLastError();
  return std::max<size_t>(size_t(4) * size_t(std::max(l2, 0)), size_t(8) << 20);
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

RowRunner::RowRunner(Stream stream, const GpuBenchOptions& options)
    : stream_(stream), options_(options), flush_buffer_(flush_size(options)) {}

RowRunner::~RowRunner() = default;

void RowRunner::flush_l2() {
  if (flush_buffer_.size() == 0) return;
  flush_value_ = (flush_value_ + 1) & 0xff;
  ELR_CUDA_CHECK(cudaMemsetAsync(flush_buffer_.get(), flush_value_, flush_buffer_.bytes(), stream_));
}

double RowRunner::validate(const RowSpec& spec, const std::function<void()>& call) {
  spec.before_validation();
  call();
  ELR_CUDA_CHECK(cudaGetLastError());
  ELR_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return spec.check();
}

double RowRunner::time_once(const std::function<void()>& call) {
  flush_l2();
  return timer_.seconds(stream_, call);
}

KernelRow RowRunner::run(const RowSpec& spec) {
  KernelRow row;
  row.kernel = spec.kernel;
  row.shape = spec.shape;
  row.nets = spec.nets;
  row.flop = spec.flop;
  row.bytes = spec.bytes;
  row.vendor = spec.vendor ? spec.vendor_name : "";
  try {
    row.max_rel_error = validate(spec, spec.ours);
  } catch (const std::exception& e) {
    row.error = e.what();
    return row;
  }
  row.valid = true;
  if (spec.vendor) {
    try {
      row.vendor_max_rel_error = validate(spec, spec.vendor);
      row.vendor_valid = true;
    } catch (const std::exception& e) {
      row.vendor_error = e.what();
    }
  }
  try {
    if (spec.before_timing) spec.before_timing();
    for (int i = 0; i < options_.warmup; ++i) {
      spec.ours();
      if (row.vendor_valid) spec.vendor();
    }
    std::vector<double> ours, vendor;
    for (int r = 0; r < std::max(options_.repeats, 1); ++r) {
      ours.push_back(time_once(spec.ours));
      if (row.vendor_valid) vendor.push_back(time_once(spec.vendor));
    }
    ELR_CUDA_CHECK(cudaGetLastError());
    row.median_s = median_of(ours);
    row.min_s = *std::min_element(ours.begin(), ours.end());
    row.repeats = static_cast<int>(ours.size());
    if (!vendor.empty()) {
      row.vendor_median_s = median_of(vendor);
      row.vendor_min_s = *std::min_element(vendor.begin(), vendor.end());
    }
  } catch (const std::exception& e) {
    row.valid = false;
    row.error = fmt::format("timing failed: {}", e.what());
    row.median_s = row.min_s = row.vendor_median_s = row.vendor_min_s = 0;
  }
  return row;
}

}  // namespace elr::bench::gpu
