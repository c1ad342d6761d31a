// Shared by the kernel labs (bn_relu_lab.cu, layer_stats_lab.cu): error checks, L2 flushing,
// cudaEvent timing (median of repeats after a warm-up) and one result line per variant, both for
// people and as a "LABJSON {...}" line that scripts/gpu-check.sh collects into its report.
#pragma once
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace elr::labs {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

struct Options {
  bool small = false;  // tiny shapes (the emulated build on a CPU, or a quick smoke run)
  int repeats = 20;
};
inline Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--small") == 0) o.small = true;
    else if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) o.repeats = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: %s [--small] [--repeats N]\n", argv[0]);
      std::exit(2);
    }
  }
  return o;
}

inline void print_device() {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
    std::printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
}

// Writes a buffer larger than the L2 cache (50 MB on H100, 60 MB on H200) so that no timed run
// finds its inputs in L2 because the previous run just wrote them.
class L2Flusher {
 public:
  explicit L2Flusher(size_t bytes) : bytes_(bytes) { check(cudaMalloc(&buffer_, bytes_), "cudaMalloc (L2 flush)"); }
  ~L2Flusher() { cudaFree(buffer_); }
  void flush() { check(cudaMemsetAsync(buffer_, ++value_ & 0xff, bytes_, nullptr), "cudaMemsetAsync (L2 flush)"); }

 private:
  void* buffer_ = nullptr;
  size_t bytes_;
  int value_ = 0;
};

// Median milliseconds of `repeats` runs of `run` (two untimed warm-up runs first), L2 flushed
// before each run and outside the timed interval.
template <class F>
double median_ms(F run, int repeats, L2Flusher& flusher) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (int i = 0; i < 2; ++i) run();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    flusher.flush();
    check(cudaEventRecord(start, nullptr), "cudaEventRecord");
    run();
    check(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    times.push_back(ms);
  }
  check(cudaGetLastError(), "kernel launch");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// One line per (variant, shape): validation result, median time, effective bandwidth over the
// minimum traffic `bytes` (each input read once, each output written once).
inline void report(const char* lab, const std::string& variant, const std::string& shape, bool valid,
                   double max_error, double ms, double bytes) {
  const double gbps = ms > 0 ? bytes / (ms * 1e-3) / 1e9 : 0;
  std::printf("%-12s %-28s %-28s %s max_err=%.2e  %9.4f ms  %8.1f GB/s\n", lab, variant.c_str(), shape.c_str(),
              valid ? "ok  " : "FAIL", max_error, ms, gbps);
  std::printf("LABJSON {\"lab\":\"%s\",\"variant\":\"%s\",\"shape\":\"%s\",\"valid\":%s,\"max_error\":%.3e,"
              "\"ms\":%.6f,\"gbps\":%.2f}\n",
              lab, variant.c_str(), shape.c_str(), valid ? "true" : "false", max_error, ms, gbps);
  std::fflush(stdout);
}

// Largest |got - want| / (atol + rtol |want|) (<= 1 passes); NaN mismatches count as infinite.
template <class A, class B>
double error_ratio(const std::vector<A>& got, const std::vector<B>& want, double rtol, double atol) {
  if (got.size() != want.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    const double r = std::isnan(g) || std::isnan(w) ? INFINITY : std::fabs(g - w) / (atol + rtol * std::fabs(w));
    worst = std::max(worst, r);
  }
  return worst;
}

template <class T>
std::vector<T> download(const T* device, size_t count) {
  std::vector<T> host(count);
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  check(cudaMemcpy(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  return host;
}

template <class T>
T* upload(const std::vector<T>& host) {
  T* device = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&device), std::max<size_t>(1, host.size()) * sizeof(T)), "cudaMalloc");
  check(cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  return device;
}

// Uniform values in [offset - scale, offset + scale) from a fixed seed.
inline std::vector<float> random_values(size_t count, uint64_t seed, float scale = 1.0f, float offset = 0.0f) {
  std::vector<float> v(count);
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (float& x : v) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x = offset + scale * float(double(s >> 11) / double(1ull << 53) * 2.0 - 1.0);
  }
  return v;
}

}  // namespace elr::labs
