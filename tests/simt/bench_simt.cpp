// Measures the CPU layer's overhead on representative kernels (numbers quoted in
// docs/kernels-on-cpu.md). Usage: elr_simt_bench [repeats]; elr_simt_bench_checked runs the same
// kernels with the memory checks ($ELR_SIMT_CHECKS, default all).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "kernels/simt/control.h"
#include "tests/simt/test_kernels.h"
#include "tests/simt/test_support.h"

using namespace elr::simt_tests;

namespace {

double best_ms(int repeats, const std::function<void()>& run) {
  run();  // warm-up: creates the fibers
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (ms < best) best = ms;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 5;
  const int s = 256;
  auto a = random_values(size_t(s) * s, 1), b = random_values(size_t(s) * s, 2);
  DeviceBuffer da(a), db(b), dc(size_t(s) * s);
  const int n = 128, c = 32, hw = 28 * 28;
  auto x = random_values(size_t(n) * c * hw, 3);
  DeviceBuffer dx(x), mean(c), var(c);
  const int elems = 1 << 20;
  DeviceBuffer ex(random_values(elems, 4)), ey(random_values(elems, 5));
  DeviceBuffer partial(64);

  const int default_workers = elr::simt::num_workers();
  for (int workers : {1, default_workers}) {
    elr::simt::set_num_workers(workers);
    std::printf("schedule %s, %d worker(s), checks %s\n", elr::simt::current_schedule().str().c_str(), workers,
                elr::simt::checks().str().c_str());
    double gemm = best_ms(repeats, [&] { tiled_sgemm(da.get(), db.get(), dc.get(), s, s, s, nullptr); });
    std::printf("  tiled sgemm 256^3 (16x16 tiles): %8.2f ms  (%.2f GFLOP/s)\n", gemm,
                2.0 * s * s * s / (gemm * 1e6));
    double bn = best_ms(repeats, [&] {
      channel_stats(dx.get(), mean.get(), var.get(), n, c, hw, 256, nullptr);
    });
    std::printf("  channel stats N=%d C=%d HW=%d (256 threads/channel): %8.2f ms\n", n, c, hw, bn);
    double red = best_ms(repeats, [&] { block_sum(dx.get(), partial.get(), n * c * hw, 64, 256, nullptr); });
    std::printf("  block sum of %d floats (64x256 threads, shuffles): %8.2f ms\n", n * c * hw, red);
    double ax = best_ms(repeats, [&] { axpy(0.5f, ex.get(), ey.get(), elems, nullptr); });
    std::printf("  axpy of %d floats (no barriers): %8.2f ms  (%.1f ns per thread)\n", elems, ax,
                ax * 1e6 / elems);
    if (workers == default_workers) break;
  }
  std::printf("fibers created: %d\n", elr::simt::fibers_created());
  return 0;
}
