// Times the fast CPU conv2d (forward, backward-data, backward-weight) at the default model's
// shapes and reports GFLOP/s, for the chunk size the kernels pick and for a sweep of chunk sizes.
// Standalone, not part of the CMake build; from the repository root (one command line):
//   g++ -O3 -DNDEBUG -march=native -fopenmp -std=gnu++17 -DEIGEN_DONT_PARALLELIZE -I.
//       -isystem /usr/include/eigen3 bench/conv_cpu_bench.cpp kernels/cpu/conv2d.cpp
//       kernels/cpu/conv2d_naive.cpp -lfmt -o conv_cpu_bench
//   ./conv_cpu_bench [repeats]
// Time on an otherwise idle machine: with other processes on the cores, OpenMP threads get
// descheduled and medians jump by whole scheduler slices.
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include "kernels/cpu/im2col.h"
#include "kernels/kernels.h"

using elr::kernels::Conv2dShape;
namespace detail = elr::kernels::detail;

namespace {

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

struct Timing {
  double median_s, min_s;
};
Timing time_it(int repeats, const std::function<void()>& f) {
  f();  // warm-up: scratch buffers, caches
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front()};
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

// The fast path against the oracle on the first two images of the shape, before any timing.
bool validate(Conv2dShape s) {
  s.n = std::min(s.n, 2);
  const int64_t xs = int64_t(s.n) * s.c * s.h * s.w, ws = int64_t(s.k) * s.c * s.r * s.s,
                ys = int64_t(s.n) * s.k * s.p() * s.q();
  const auto x = random_floats(xs, 1), w = random_floats(ws, 2), dy = random_floats(ys, 3);
  std::vector<float> a(ys), b(ys), dxa(xs), dxb(xs), dwa(ws), dwb(ws);
  elr::kernels::conv2d_forward_cpu(s, x.data(), w.data(), a.data());
  elr::kernels::conv2d_forward_naive(s, x.data(), w.data(), b.data());
  elr::kernels::conv2d_backward_data_cpu(s, dy.data(), w.data(), dxa.data());
  elr::kernels::conv2d_backward_data_naive(s, dy.data(), w.data(), dxb.data());
  elr::kernels::conv2d_backward_weight_cpu(s, x.data(), dy.data(), dwa.data());
  elr::kernels::conv2d_backward_weight_naive(s, x.data(), dy.data(), dwb.data());
  const double err = std::max({max_abs_diff(a, b), max_abs_diff(dxa, dxb), max_abs_diff(dwa, dwb)});
  return err < 1e-3;
}

void bench_shape(const Conv2dShape& s, int repeats, const std::vector<int>& chunks) {
  const int64_t xs = int64_t(s.n) * s.c * s.h * s.w, ws = int64_t(s.k) * s.c * s.r * s.s,
                ys = int64_t(s.n) * s.k * s.p() * s.q();
  const auto x = random_floats(xs, 1), w = random_floats(ws, 2), dy = random_floats(ys, 3);
  std::vector<float> y(ys), dx(xs), dw(ws);
  const double gflop = 2.0 * s.n * s.k * double(s.c) * s.r * s.s * s.p() * s.q() * 1e-9;
  fmt::print("n={} c={} {}x{} k={} {}x{} stride={} pad={}: {:.3f} GFLOP per pass, validated: {}\n", s.n, s.c, s.h,
             s.w, s.k, s.r, s.s, s.stride, s.pad, gflop, validate(s) ? "yes" : "NO");
  const int picked = detail::conv2d_images_per_chunk(s);
  for (int chunk : chunks) {
    const Timing f = time_it(repeats, [&] { detail::conv2d_forward_chunked(s, x.data(), w.data(), y.data(), chunk); });
    const Timing d =
        time_it(repeats, [&] { detail::conv2d_backward_data_chunked(s, dy.data(), w.data(), dx.data(), chunk); });
    const Timing g =
        time_it(repeats, [&] { detail::conv2d_backward_weight_chunked(s, x.data(), dy.data(), dw.data(), chunk); });
    fmt::print("  chunk {}{}: forward {:6.1f} GFLOP/s ({:.2f} ms)  bwd-data {:6.1f} ({:.2f} ms)  bwd-weight {:6.1f} "
               "({:.2f} ms)  [median; best {:.1f} / {:.1f} / {:.1f}]\n",
               chunk, chunk == picked ? "*" : " ", gflop / f.median_s, f.median_s * 1e3, gflop / d.median_s,
               d.median_s * 1e3, gflop / g.median_s, g.median_s * 1e3, gflop / f.min_s, gflop / d.min_s,
               gflop / g.min_s);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 20;
  fmt::print("threads: {} (* = the chunk size the kernels pick)\n", omp_get_max_threads());
  const std::vector<int> chunks = {1, 2, 4, 8, 16};
  // The default plain net on Fashion-MNIST, batch 128.
  bench_shape(Conv2dShape{128, 1, 28, 28, 32, 3, 3, 1, 1}, repeats, chunks);
  bench_shape(Conv2dShape{128, 32, 28, 28, 32, 3, 3, 1, 1}, repeats, chunks);
  bench_shape(Conv2dShape{128, 32, 14, 14, 32, 3, 3, 1, 1}, repeats, chunks);
  bench_shape(Conv2dShape{128, 32, 7, 7, 32, 3, 3, 1, 1}, repeats, chunks);
  bench_shape(Conv2dShape{128, 32, 28, 28, 32, 3, 3, 2, 1}, repeats, chunks);
  bench_shape(Conv2dShape{128, 32, 14, 14, 64, 1, 1, 1, 0}, repeats, chunks);
  bench_shape(Conv2dShape{128, 64, 7, 7, 64, 1, 1, 1, 0}, repeats, chunks);
  return 0;
}
