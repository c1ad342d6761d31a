// Tests of the CPU execution layer: the test kernels match plain loops, correct kernels are
// bitwise identical across schedules and worker counts, and every planted bug is caught.
// CTest runs this binary under several ELR_SIMT_SCHEDULE values.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <functional>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/simt/control.h"
#include "tests/simt/expect_fault.h"
#include "tests/simt/schedule_scope.h"
#include "tests/simt/test_kernels.h"
#include "tests/simt/test_support.h"

using namespace elr::simt_tests;
using elr::simt::Fault;
using elr::simt::KernelError;
using elr::simt::Schedule;

namespace {

std::vector<float> run_block_sum(const std::vector<float>& x, int blocks, int threads) {
  DeviceBuffer dx(x), partial(static_cast<size_t>(blocks));
  block_sum(dx.get(), partial.get(), int(x.size()), blocks, threads, nullptr);
  return partial.download();
}

std::vector<float> run_sgemm(const std::vector<float>& a, const std::vector<float>& b, int m, int n, int k) {
  DeviceBuffer da(a), db(b), dc(size_t(m) * n);
  tiled_sgemm(da.get(), db.get(), dc.get(), m, n, k, nullptr);
  return dc.download();
}

std::vector<float> run_channel_stats(const std::vector<float>& x, int n, int c, int hw, int threads) {
  DeviceBuffer dx(x), mean(static_cast<size_t>(c)), var(static_cast<size_t>(c));
  channel_stats(dx.get(), mean.get(), var.get(), n, c, hw, threads, nullptr);
  std::vector<float> out = mean.download(), v = var.download();
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

std::vector<float> run_axpy(const std::vector<float>& x, std::vector<float> y) {
  DeviceBuffer dx(x), dy(y);
  axpy(0.75f, dx.get(), dy.get(), int(x.size()), nullptr);
  return dy.download();
}

}  // namespace

TEST_CASE("block sum with warp shuffles matches a double loop", "[simt]") {
  auto x = random_values(10007, 1);
  double want = 0.0;
  for (float v : x) want += v;
  for (int threads : {32, 96, 256, 1024}) {
    auto partial = run_block_sum(x, 7, threads);
    double got = 0.0;
    for (float v : partial) got += v;
    INFO("threads " << threads);
    CHECK(std::fabs(got - want) < 1e-3);
  }
}

TEST_CASE("tiled sgemm matches plain loops", "[simt]") {
  for (auto [m, n, k] : {std::tuple{45, 37, 50}, std::tuple{64, 64, 64}, std::tuple{1, 17, 3}}) {
    auto a = random_values(size_t(m) * k, 2), b = random_values(size_t(k) * n, 3);
    INFO(m << "x" << n << "x" << k);
    CHECK(max_relative_error(run_sgemm(a, b, m, n, k), reference_sgemm(a, b, m, n, k)) < 1e-5);
  }
}

TEST_CASE("per-channel statistics match plain loops", "[simt]") {
  const int n = 4, c = 5, hw = 49;
  auto x = random_values(size_t(n) * c * hw, 4);
  for (float& v : x) v = 3.0f + 2.0f * v;  // nonzero mean, so the variance formula is exercised
  auto want = reference_channel_stats(x, n, c, hw);
  std::vector<double> expected = want.mean;
  expected.insert(expected.end(), want.var.begin(), want.var.end());
  CHECK(max_relative_error(run_channel_stats(x, n, c, hw, 128), expected) < 1e-6);
}

TEST_CASE("warp intrinsics, barrier counts and atomics give the CUDA results", "[simt]") {
  const int threads = 64;
  auto out_buf = random_values(size_t(threads) * kIntrinsicSlots, 0);  // sized in floats = ints
  DeviceBuffer out(out_buf.size()), counters(2), fsum(1);
  check_cuda(cudaMemset(counters.get(), 0, 2 * sizeof(unsigned)), "memset");
  check_cuda(cudaMemset(fsum.get(), 0, sizeof(float)), "memset");
  intrinsics(reinterpret_cast<int*>(out.get()), reinterpret_cast<unsigned*>(counters.get()),
             fsum.get(), nullptr);
  auto raw = out.download();
  std::vector<int> o(raw.size());
  std::memcpy(o.data(), raw.data(), raw.size() * sizeof(int));
  unsigned ballot = 0;
  for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
  for (int t = 0; t < threads; ++t) {
    const int lane = t % 32, warp_base = t - lane;
    const int* r = &o[size_t(t) * kIntrinsicSlots];
    INFO("thread " << t);
    CHECK(r[0] == (warp_base + 3) * 10);
    CHECK(r[1] == (lane >= 2 ? t - 2 : t));
    CHECK(r[2] == warp_base + (lane ^ 5));
    CHECK(unsigned(r[3]) == ballot);
    CHECK(r[4] == (warp_base == 32 ? 1 : 0));
    CHECK(r[5] == 0);
    CHECK(r[6] == threads / 4);
    CHECK(r[7] == ((lane % 16) + 4 < 16 ? lane + 4 : lane));
  }
  auto counter_raw = counters.download();
  unsigned c[2];
  std::memcpy(c, counter_raw.data(), sizeof(c));
  CHECK(c[0] == unsigned(threads));
  CHECK(c[1] == 49u);
  CHECK(fsum.download()[0] == 32.0f);
}

TEST_CASE("correct kernels are bitwise equal across schedules and worker counts", "[simt]") {
  auto x = random_values(5000, 5), y = random_values(5000, 6);
  auto a = random_values(40 * 33, 7), b = random_values(33 * 29, 8);
  auto bn = random_values(3 * 6 * 50, 9);
  std::vector<std::vector<float>> first;
  for (const char* schedule : {"forward", "reverse", "random:7", "random:12345"}) {
    for (int workers : {1, 3}) {
      ScheduleScope scope(schedule, workers);
      std::vector<std::vector<float>> results{run_block_sum(x, 9, 128), run_sgemm(a, b, 40, 29, 33),
                                              run_channel_stats(bn, 3, 6, 50, 64), run_axpy(x, y)};
      INFO("schedule " << schedule << ", workers " << workers);
      if (first.empty()) first = results;
      for (size_t i = 0; i < results.size(); ++i) CHECK(bitwise_equal(results[i], first[i]));
    }
  }
}

TEST_CASE("a missing __syncthreads changes results between schedules, and racecheck reports it", "[simt][planted]") {
  const int n = 200, threads = 64;
  auto x = random_values(n, 10);
  std::vector<float> want(n);
  for (int block = 0; block * threads < n; ++block)
    for (int t = 0; t < threads; ++t) {
      int i = block * threads + t, src = block * threads + threads - 1 - t;
      if (i < n) want[size_t(i)] = src < n ? x[size_t(src)] : 0.0f;
    }
  auto run = [&](const char* schedule, bool with_barrier) {
    ScheduleScope scope(schedule, 2);
    DeviceBuffer dx(x), dy(static_cast<size_t>(n));
    reverse_chunks(dx.get(), dy.get(), n, threads, with_barrier, nullptr);
    return dy.download();
  };
  // The correct kernel matches the reference under both schedules...
  CHECK(bitwise_equal(run("forward", true), want));
  CHECK(bitwise_equal(run("reverse", true), want));
  if (elr::simt::checks().racecheck) {  // ...the planted race is reported where the checks run...
    KernelError e = expect_fault([&] { run("random:2", false); });
    INFO(e.what());
    // ...as a read-after-write hazard, or as a read of a slot no thread has written yet.
    CHECK((e.fault() == Fault::SharedRace || e.fault() == Fault::UninitializedRead));
    CHECK(contains(e.what(), " in kernel 'reverse_chunks_kernel'"));
    return;
  }
  // ...and elsewhere its results are wrong, and the two schedules disagree.
  auto forward = run("forward", false), reverse = run("reverse", false);
  CHECK_FALSE(bitwise_equal(forward, reverse));
  CHECK((!bitwise_equal(forward, want) || !bitwise_equal(reverse, want)));
}

TEST_CASE("a return before __syncthreads is reported with its call site", "[simt][planted]") {
  DeviceBuffer x(random_values(64, 14)), y(64);
  KernelError e = expect_fault([&] { early_return(x.get(), y.get(), 40, 64, nullptr); });
  CHECK(e.fault() == Fault::ExitAtBarrier);
  CHECK(contains(e.what(), "synccheck: thread exited while others wait at a barrier in kernel 'early_return_kernel'"));
  CHECK(contains(e.what(), "planted_bugs.cu:"));
  CHECK(contains(e.what(), "24 thread(s) exited"));
  // The layer keeps working after a fault.
  DeviceBuffer partial(1);
  block_sum(x.get(), partial.get(), 0, 1, 64, nullptr);
  CHECK(partial.download()[0] == 0.0f);
}

TEST_CASE("a shuffle mask naming an absent lane is reported", "[simt][planted]") {
  auto host = random_values(64, 11);
  DeviceBuffer x(host), y(2);
  // Correct with two full warps...
  full_mask_reduce(x.get(), y.get(), 64, nullptr);
  auto sums = y.download();
  for (int w = 0; w < 2; ++w) {
    double want = 0.0;
    for (int l = 0; l < 32; ++l) want += host[size_t(w * 32 + l)];
    CHECK(std::fabs(sums[size_t(w)] - want) < 1e-5);
  }
  // ...and caught with a partial warp.
  KernelError e = expect_fault([&] { full_mask_reduce(x.get(), y.get(), 48, nullptr); });
  CHECK(e.fault() == Fault::BadWarpMask);
  CHECK(contains(e.what(), "synccheck: bad warp mask"));
  CHECK(contains(e.what(), "names lane 16, but warp 1 has only 16 thread(s)"));
  CHECK(contains(e.what(), "__shfl_down_sync"));
}

TEST_CASE("a shuffle mask naming an exited lane is reported", "[simt][planted]") {
  DeviceBuffer x(random_values(64, 15)), y(64);
  KernelError e = expect_fault([&] { shuffle_after_exit(x.get(), y.get(), 64, nullptr); });
  CHECK(e.fault() == Fault::BadWarpMask);
  CHECK(contains(e.what(), "exited"));
}

TEST_CASE("threads waiting at different barriers are reported", "[simt][planted]") {
  DeviceBuffer y(64);
  KernelError e = expect_fault([&] { divergent_barrier(y.get(), 64, nullptr); });
  INFO(e.what());
  CHECK(e.fault() == Fault::DivergentBarrier);
  CHECK(contains(e.what(), "synccheck: divergent barrier in kernel 'divergent_barrier_kernel'"));
  CHECK(contains(e.what(), "32 thread(s) waiting at __syncthreads (" ));
}

TEST_CASE("a warp shuffle waiting on a lane parked at a barrier is a deadlock", "[simt][planted]") {
  DeviceBuffer y(64);
  KernelError e = expect_fault([&] { warp_barrier_deadlock(y.get(), nullptr); });
  INFO(e.what());
  CHECK(e.fault() == Fault::Deadlock);
  CHECK(contains(e.what(), "2 thread(s) waiting at __shfl_sync mask 0x00000003"));
  CHECK(contains(e.what(), "62 thread(s) waiting at __syncthreads"));
}

TEST_CASE("stream capture records launches and copies, and a graph replays them", "[simt]") {
  const int n = 1000;
  auto x = random_values(n, 12), y0 = random_values(n, 13);
  DeviceBuffer dx(n), dy(y0);
  // A graph reads and writes host memory at replay time: only pinned memory may be captured.
  float *x_pinned = nullptr, *y_host = nullptr;
  check_cuda(cudaMallocHost(reinterpret_cast<void**>(&x_pinned), n * sizeof(float)), "pinned x");
  check_cuda(cudaMallocHost(reinterpret_cast<void**>(&y_host), n * sizeof(float)), "pinned y");
  std::copy(x.begin(), x.end(), x_pinned);
  std::fill(y_host, y_host + n, -1.0f);
  cudaStream_t stream;
  check_cuda(cudaStreamCreate(&stream), "stream");
  cudaGraph_t graph;
  check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), "begin capture");
  check_cuda(cudaMemcpyAsync(dx.get(), x_pinned, n * sizeof(float), cudaMemcpyHostToDevice, stream), "h2d");
  axpy(0.75f, dx.get(), dy.get(), n, stream);
  check_cuda(cudaMemcpyAsync(y_host, dy.get(), n * sizeof(float), cudaMemcpyDeviceToHost, stream), "d2h");
  check_cuda(cudaStreamEndCapture(stream, &graph), "end capture");
  CHECK(y_host[0] == -1.0f);              // nothing ran while capturing
  CHECK(bitwise_equal(dy.download(), y0));
  cudaGraphExec_t exec;
  check_cuda(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  cudaEvent_t start, stop;
  check_cuda(cudaEventCreate(&start), "event");
  check_cuda(cudaEventCreate(&stop), "event");
  check_cuda(cudaEventRecord(start, stream), "record");
  check_cuda(cudaGraphLaunch(exec, stream), "replay 1");
  check_cuda(cudaGraphLaunch(exec, stream), "replay 2");
  check_cuda(cudaEventRecord(stop, stream), "record");
  check_cuda(cudaEventSynchronize(stop), "sync");
  float ms = -1.0f;
  check_cuda(cudaEventElapsedTime(&ms, start, stop), "elapsed");
  CHECK(ms >= 0.0f);
  for (int i = 0; i < n; ++i) {
    float once = 0.75f * x[size_t(i)] + y0[size_t(i)];
    REQUIRE(y_host[size_t(i)] == 0.75f * x[size_t(i)] + once);
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);
  cudaFreeHost(x_pinned);
  cudaFreeHost(y_host);
}

TEST_CASE("a capture fails like CUDA's global mode on calls that would synchronize or allocate", "[simt]") {
  const int n = 64;
  std::vector<float> pageable(n, 1.0f);
  DeviceBuffer d(n);
  cudaStream_t stream;
  check_cuda(cudaStreamCreate(&stream), "stream");
  struct Case {
    const char* name;
    std::function<cudaError_t()> call;
  };
  void* leaked = nullptr;
  const std::vector<Case> cases = {
      {"cudaStreamSynchronize", [&] { return cudaStreamSynchronize(stream); }},
      {"cudaMalloc", [&] { return cudaMalloc(&leaked, 256); }},
      {"cudaMemcpy", [&] { return cudaMemcpy(d.get(), pageable.data(), n * sizeof(float), cudaMemcpyHostToDevice); }},
      {"cudaDeviceSynchronize", [&] { return cudaDeviceSynchronize(); }},
      {"pageable cudaMemcpyAsync", [&] {
         return cudaMemcpyAsync(d.get(), pageable.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream);
       }},
      {"a launch on the legacy stream", [&] {
         axpy(1.0f, d.get(), d.get(), n, nullptr);
         return cudaGetLastError() == cudaErrorStreamCaptureImplicit ? cudaErrorStreamCaptureUnsupported
                                                                      : cudaSuccess;
       }},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), "begin capture");
    CHECK(c.call() == cudaErrorStreamCaptureUnsupported);
    cudaGraph_t graph = reinterpret_cast<cudaGraph_t>(&leaked);
    CHECK(cudaStreamEndCapture(stream, &graph) == cudaErrorStreamCaptureInvalidated);
    CHECK(graph == nullptr);
    cudaGetLastError();
  }
  CHECK(leaked == nullptr);
  // Outside a capture the same calls work again.
  check_cuda(cudaMemcpy(d.get(), pageable.data(), n * sizeof(float), cudaMemcpyHostToDevice), "memcpy");
  check_cuda(cudaMalloc(&leaked, 256), "malloc");
  check_cuda(cudaFree(leaked), "free");
  cudaStreamDestroy(stream);
}

TEST_CASE("emulated device memory and launch checks behave like the runtime", "[simt]") {
  DeviceBuffer fresh(4);
  for (float v : fresh.download()) CHECK(std::isnan(v));  // new memory reads as NaN
  std::vector<float> host(8, 1.0f);
  CHECK(cudaMemcpy(fresh.get(), host.data(), 5 * sizeof(float), cudaMemcpyHostToDevice) ==
        cudaErrorInvalidValue);  // one float past the allocation
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(cudaFree(host.data()) == cudaErrorInvalidValue);
  cudaGetLastError();
  DeviceBuffer y(4);
  KernelError e = expect_fault([&] { axpy(1.0f, y.get(), y.get(), 0, nullptr); });  // grid of 0 blocks
  CHECK(e.fault() == Fault::BadLaunch);
  CHECK(contains(e.what(), "launch limits: bad launch of kernel 'axpy_kernel'"));
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  int count = 0;
  CHECK(cudaGetDeviceCount(&count) == cudaSuccess);
  CHECK(count == 1);
  CHECK(Schedule::parse("random:42").seed == 42u);
  CHECK_THROWS_AS(Schedule::parse("backwards"), elr::UserError);
}
