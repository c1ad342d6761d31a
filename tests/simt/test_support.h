// Shared by the emulated and the GPU test drivers: device buffers through the CUDA runtime API,
// deterministic inputs, and plain-loop references for the test kernels.
#pragma once
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace elr::simt_tests {

inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t count) : count_(count) {
    check_cuda(cudaMalloc(reinterpret_cast<void**>(&ptr_), count * sizeof(float)), "cudaMalloc");
  }
  explicit DeviceBuffer(const std::vector<float>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  float* get() const { return ptr_; }
  void upload(const std::vector<float>& host) {
    check_cuda(cudaMemcpy(ptr_, host.data(), count_ * sizeof(float), cudaMemcpyHostToDevice),
               "cudaMemcpy H2D");
  }
  std::vector<float> download() const {
    std::vector<float> host(count_);
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    check_cuda(cudaMemcpy(host.data(), ptr_, count_ * sizeof(float), cudaMemcpyDeviceToHost),
               "cudaMemcpy D2H");
    return host;
  }

 private:
  float* ptr_ = nullptr;
  size_t count_;
};

// Uniform values in [-1, 1) from a fixed-seed generator.
inline std::vector<float> random_values(size_t count, uint64_t seed) {
  std::vector<float> v(count);
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (auto& x : v) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x = float(double(s >> 11) / double(1ull << 53) * 2.0 - 1.0);
  }
  return v;
}

inline std::vector<double> reference_sgemm(const std::vector<float>& a, const std::vector<float>& b,
                                           int m, int n, int k) {
  std::vector<double> c(size_t(m) * n, 0.0);
  for (int i = 0; i < m; ++i)
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < n; ++j) c[size_t(i) * n + j] += double(a[size_t(i) * k + p]) * b[size_t(p) * n + j];
  return c;
}

struct ChannelStats {
  std::vector<double> mean, var;
};
inline ChannelStats reference_channel_stats(const std::vector<float>& x, int n, int c, int hw) {
  ChannelStats r{std::vector<double>(size_t(c)), std::vector<double>(size_t(c))};
  for (int ch = 0; ch < c; ++ch) {
    double s = 0.0, q = 0.0;
    for (int i = 0; i < n; ++i)
      for (int p = 0; p < hw; ++p) {
        double v = x[(size_t(i) * c + ch) * hw + p];
        s += v;
        q += v * v;
      }
    double count = double(n) * hw;
    r.mean[size_t(ch)] = s / count;
    r.var[size_t(ch)] = q / count - r.mean[size_t(ch)] * r.mean[size_t(ch)];
  }
  return r;
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Largest |got - want| / (1 + |want|) over all elements.
template <class Want>
double max_relative_error(const std::vector<float>& got, const std::vector<Want>& want) {
  if (got.size() != want.size()) return INFINITY;
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e = std::fabs(double(got[i]) - double(want[i])) / (1.0 + std::fabs(double(want[i])));
    if (std::isnan(e)) return INFINITY;
    if (e > worst) worst = e;
  }
  return worst;
}

}  // namespace elr::simt_tests
