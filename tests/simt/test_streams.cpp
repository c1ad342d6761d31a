// Stream semantics of the CPU layer: work on different streams runs in an order the schedule picks,
// constrained only by what CUDA guarantees (stream order, events, the legacy stream's implicit
// ordering with blocking streams, host synchronization); the host's misuse of pinned memory is
// reported; launches beyond sm_90's limits fail. In the checked binary racecheck also reports the
// unordered stream operations themselves.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/simt/control.h"
#include "tests/simt/expect_fault.h"
#include "tests/simt/schedule_scope.h"
#include "tests/simt/test_kernels.h"
#include "tests/simt/test_support.h"

using namespace elr::simt_tests;
using elr::simt::Fault;
using elr::simt::KernelError;

namespace {

struct StreamHandle {
  cudaStream_t stream = nullptr;
  explicit StreamHandle(unsigned flags) { check_cuda(cudaStreamCreateWithFlags(&stream, flags), "stream"); }
  ~StreamHandle() { cudaStreamDestroy(stream); }
};

struct EventHandle {
  cudaEvent_t event = nullptr;
  EventHandle() { check_cuda(cudaEventCreate(&event), "event"); }
  ~EventHandle() { cudaEventDestroy(event); }
};

template <class T>
struct PinnedArray {
  T* data = nullptr;
  explicit PinnedArray(size_t n) { check_cuda(cudaMallocHost(reinterpret_cast<void**>(&data), n * sizeof(T)), "pinned"); }
  ~PinnedArray() { cudaFreeHost(data); }
};

const bool kRacecheck = elr::simt::checks().racecheck;

}  // namespace

TEST_CASE("a legacy-stream upload does not order a non-blocking stream's launch (the multi-tensor list's old bug)",
          "[simt][streams][planted]") {
  const int n = 1000;
  const auto x = random_values(n, 20);
  // sums = 0 by a synchronous cudaMemcpy (legacy stream, pageable: it may return before the data
  // lands), then sums += x on a non-blocking stream, which nothing orders after the upload.
  auto run = [&](const char* schedule, bool synchronize_upload) {
    ScheduleScope scope(schedule, 2);
    DeviceBuffer dx(x), sums(static_cast<size_t>(n));
    StreamHandle s(cudaStreamNonBlocking);
    const std::vector<float> zeros(n, 0.0f);
    check_cuda(cudaMemcpy(sums.get(), zeros.data(), n * sizeof(float), cudaMemcpyHostToDevice), "upload");
    if (synchronize_upload) check_cuda(cudaStreamSynchronize(cudaStreamLegacy), "the fix");
    accumulate(sums.get(), dx.get(), n, s.stream);
    check_cuda(cudaStreamSynchronize(s.stream), "sync");
    return sums.download();
  };
  for (const char* schedule : {"forward", "reverse", "random:3", "random:4"}) {
    INFO(schedule);
    CHECK(bitwise_equal(run(schedule, true), x));  // synchronized: right under every order
  }
  if (kRacecheck) {
    KernelError e = expect_fault([&] { run("forward", false); });
    INFO(e.what());
    CHECK(e.fault() == Fault::StreamRace);
    CHECK(contains(e.what(), "racecheck: stream race in kernel 'accumulate_kernel' (launched at"));
    CHECK(contains(e.what(), "on non-blocking stream"));
    CHECK(contains(e.what(), "which cudaMemcpy host-to-device of 4000 bytes on the legacy stream (called at"));
    CHECK(contains(e.what(), "test_streams.cpp:"));
    CHECK(contains(e.what(), "planted_bugs.cu:"));  // the kernel's access
  } else {
    CHECK(bitwise_equal(run("forward", false), x));        // the synchronous order hides the bug...
    CHECK_FALSE(bitwise_equal(run("reverse", false), x));  // ...another order shows it
  }
}

TEST_CASE("a multi-tensor list is ready for a non-blocking stream when it is made", "[simt][streams]") {
  namespace k = elr::kernels;
  const std::vector<int> sizes = {4097, 100, 9000};
  std::vector<std::unique_ptr<DeviceBuffer>> w, g;
  std::vector<k::MultiTensorDesc> descs;
  for (size_t t = 0; t < sizes.size(); ++t) {
    w.push_back(std::make_unique<DeviceBuffer>(random_values(size_t(sizes[t]), 40 + t)));
    g.push_back(std::make_unique<DeviceBuffer>(random_values(size_t(sizes[t]), 50 + t)));
    descs.push_back({w.back()->get(), g.back()->get(), nullptr, sizes[t]});
  }
  check_cuda(cudaStreamSynchronize(cudaStreamLegacy), "the tensors' uploads");
  std::vector<double> first;
  for (const char* schedule : {"forward", "reverse", "random:9", "random:10"}) {
    INFO(schedule);
    ScheduleScope scope(schedule, 1);
    StreamHandle s(cudaStreamNonBlocking);  // as the engine's stream
    k::MultiTensorList list = k::make_multi_tensor_list(descs.data(), int(descs.size()));
    DeviceBuffer stats(sizes.size() * sizeof(k::TensorStats) / sizeof(float));
    k::tensor_stats_cuda(list, reinterpret_cast<k::TensorStats*>(stats.get()), s.stream);
    check_cuda(cudaStreamSynchronize(s.stream), "sync");
    std::vector<double> got(sizes.size() * sizeof(k::TensorStats) / sizeof(double));
    check_cuda(cudaMemcpy(got.data(), stats.get(), got.size() * sizeof(double), cudaMemcpyDeviceToHost), "D2H");
    k::free_multi_tensor_list(list);
    if (first.empty()) first = got;
    CHECK(got == first);
    CHECK(got[0] > 0.0);  // |w|^2 of the first tensor
  }
}

TEST_CASE("an event waited on orders work across non-blocking streams", "[simt][streams]") {
  const int n = 500;
  const auto x = random_values(n, 21);
  auto run = [&](const char* schedule, bool wait) {
    ScheduleScope scope(schedule, 1);
    DeviceBuffer dx(x), sums(static_cast<size_t>(n));
    check_cuda(cudaStreamSynchronize(cudaStreamLegacy), "upload");  // non-blocking streams need it
    StreamHandle a(cudaStreamNonBlocking), b(cudaStreamNonBlocking);
    EventHandle zeroed;
    check_cuda(cudaMemsetAsync(sums.get(), 0, n * sizeof(float), a.stream), "memset");
    check_cuda(cudaEventRecord(zeroed.event, a.stream), "record");
    if (wait) check_cuda(cudaStreamWaitEvent(b.stream, zeroed.event, 0), "wait");
    accumulate(sums.get(), dx.get(), n, b.stream);
    check_cuda(cudaStreamSynchronize(b.stream), "sync b");
    return sums.download();
  };
  for (const char* schedule : {"forward", "reverse", "random:5"}) {
    INFO(schedule);
    CHECK(bitwise_equal(run(schedule, true), x));
  }
  if (kRacecheck) {
    CHECK(expect_fault([&] { run("forward", false); }).fault() == Fault::StreamRace);
  } else {
    CHECK_FALSE(bitwise_equal(run("reverse", false), x));  // b's launch ran first, then a's memset
  }
}

TEST_CASE("the legacy stream orders blocking streams both ways", "[simt][streams]") {
  const int n = 300;
  const auto x = random_values(n, 22);
  for (const char* schedule : {"forward", "reverse", "random:6"}) {
    INFO(schedule);
    ScheduleScope scope(schedule, 1);
    DeviceBuffer dx(x), sums(static_cast<size_t>(n));
    StreamHandle blocking(cudaStreamDefault);
    check_cuda(cudaMemset(sums.get(), 0, n * sizeof(float)), "memset");  // legacy stream, asynchronous
    accumulate(sums.get(), dx.get(), n, blocking.stream);              // after it: implicit
    std::vector<float> twice(n);
    for (int i = 0; i < n; ++i) twice[size_t(i)] = x[size_t(i)] + x[size_t(i)];
    accumulate(sums.get(), dx.get(), n, nullptr);  // the legacy stream again, after the blocking one
    check_cuda(cudaStreamSynchronize(nullptr), "sync legacy");
    std::vector<float> got(n);
    check_cuda(cudaMemcpy(got.data(), sums.get(), n * sizeof(float), cudaMemcpyDeviceToHost), "D2H");
    CHECK(bitwise_equal(got, twice));
  }
}

TEST_CASE("a host polling a stream or an event sees its work finish", "[simt][streams]") {
  const int n = 256;
  const auto x = random_values(n, 23);
  for (const char* schedule : {"forward", "reverse", "random:8"}) {
    INFO(schedule);
    ScheduleScope scope(schedule, 1);
    DeviceBuffer dx(x), sums(static_cast<size_t>(n));
    check_cuda(cudaStreamSynchronize(cudaStreamLegacy), "upload");
    StreamHandle s(cudaStreamNonBlocking);
    EventHandle done;
    check_cuda(cudaMemsetAsync(sums.get(), 0, n * sizeof(float), s.stream), "memset");
    accumulate(sums.get(), dx.get(), n, s.stream);
    check_cuda(cudaEventRecord(done.event, s.stream), "record");
    int polls = 0;
    while (cudaEventQuery(done.event) == cudaErrorNotReady) ++polls;
    CHECK(cudaStreamQuery(s.stream) == cudaSuccess);
    CHECK(polls < 10);
    PinnedArray<float> host(n);
    check_cuda(cudaMemcpyAsync(host.data, sums.get(), n * sizeof(float), cudaMemcpyDeviceToHost, s.stream), "D2H");
    while (cudaStreamQuery(s.stream) == cudaErrorNotReady) {
    }
    CHECK(bitwise_equal(std::vector<float>(host.data, host.data + n), x));
  }
}

TEST_CASE("the host writing a pinned buffer an async copy still reads is reported", "[simt][streams][planted]") {
  const int n = 2048;
  DeviceBuffer d(static_cast<size_t>(n));
  PinnedArray<float> host(n);
  for (int i = 0; i < n; ++i) host.data[i] = float(i);
  StreamHandle s(cudaStreamNonBlocking);
  check_cuda(cudaMemcpyAsync(d.get(), host.data, n * sizeof(float), cudaMemcpyHostToDevice, s.stream), "H2D");
  host.data[1500] = -1.0f;  // the copy may not have read it yet
  try {
    cudaStreamSynchronize(s.stream);
    FAIL("the host race was not reported");
  } catch (const KernelError& e) {
    INFO(e.what());
    CHECK(e.fault() == Fault::HostRace);
    CHECK(contains(e.what(), "host race: the host wrote pinned memory"));
    CHECK(contains(e.what(), "6000 bytes into a 8192-byte cudaMallocHost buffer"));
    CHECK(contains(e.what(), "cudaMemcpyAsync host-to-device of 8192 bytes on non-blocking stream"));
    CHECK(contains(e.what(), "test_streams.cpp:"));
  }
  // Once the host has synchronized with the copy, the buffer is its own again.
  check_cuda(cudaMemcpyAsync(d.get(), host.data, n * sizeof(float), cudaMemcpyHostToDevice, s.stream), "H2D");
  check_cuda(cudaStreamSynchronize(s.stream), "sync");
  host.data[0] = 3.0f;
  check_cuda(cudaStreamSynchronize(s.stream), "nothing to report");
  CHECK(d.download()[1500] == -1.0f);
}

TEST_CASE("the host reading results of an async copy before synchronizing is reported", "[simt][streams][planted]") {
  const int n = 100;
  const auto x = random_values(n, 24);
  DeviceBuffer d(x);
  check_cuda(cudaStreamSynchronize(cudaStreamLegacy), "upload");
  PinnedArray<float> host(n);
  StreamHandle s(cudaStreamNonBlocking);
  EventHandle copied;
  check_cuda(cudaMemcpyAsync(host.data, d.get(), n * sizeof(float), cudaMemcpyDeviceToHost, s.stream), "D2H");
  check_cuda(cudaEventRecord(copied.event, s.stream), "record");
  const volatile float early = host.data[7];  // not synchronized: the copy may still be running
  (void)early;
  try {
    check_cuda(cudaEventSynchronize(copied.event), "sync");
    FAIL("the host race was not reported");
  } catch (const KernelError& e) {
    INFO(e.what());
    CHECK(e.fault() == Fault::HostRace);
    CHECK(contains(e.what(), "host race: the host read pinned memory"));
    CHECK(contains(e.what(), "cudaMemcpyAsync device-to-host of 400 bytes"));
    CHECK(contains(e.what(), "may still write it"));
  }
  // Synchronized first, the same read is fine and sees the data.
  check_cuda(cudaMemcpyAsync(host.data, d.get(), n * sizeof(float), cudaMemcpyDeviceToHost, s.stream), "D2H");
  check_cuda(cudaEventRecord(copied.event, s.stream), "record");
  check_cuda(cudaEventSynchronize(copied.event), "sync");
  CHECK(bitwise_equal(std::vector<float>(host.data, host.data + n), x));
  check_cuda(cudaDeviceSynchronize(), "nothing to report");
}

TEST_CASE("launches beyond sm_90's limits fail as on the GPU", "[simt][launch][planted]") {
  DeviceBuffer y(4096), x(random_values(16384, 25)), out(1);
  auto launch_error = [](auto launch) {
    KernelError e = expect_fault(launch);
    CHECK(e.fault() == Fault::BadLaunch);
    CHECK(contains(e.what(), "launch limits: bad launch of kernel '"));
    CHECK(contains(e.what(), "planted_bugs.cu:"));
    return std::string(e.what());
  };
  {
    const std::string what = launch_error([&] { fill_2048_threads(y.get(), nullptr); });
    CHECK(contains(what, "'fill_kernel'"));
    CHECK(contains(what, "2048 threads per block, more than 1024"));
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  }
  {
    bounded_fill(y.get(), 128, nullptr);  // at its __launch_bounds__
    CHECK(contains(launch_error([&] { bounded_fill(y.get(), 256, nullptr); }),
                   "256 threads per block, more than its __launch_bounds__(128)"));
    CHECK(cudaGetLastError() == cudaErrorLaunchOutOfResources);
  }
  CHECK(contains(launch_error([&] { big_static_shared(y.get(), nullptr); }),
                 "65536 bytes of static __shared__ memory, more than 48 KB"));
  cudaGetLastError();
  {
    dynamic_shared_sum(x.get(), out.get(), 12 * 1024, nullptr);  // 48 KB: the default limit
    CHECK(contains(launch_error([&] { dynamic_shared_sum(x.get(), out.get(), 16384, nullptr); }),
                   "65536 bytes of dynamic shared memory (and 0 static), more than the 49152 allowed without opting in"));
    cudaGetLastError();
    CHECK(opt_in_dynamic_shared(228 * 1024) == cudaErrorInvalidValue);  // past the device's 227 KB
    cudaGetLastError();
    CHECK(opt_in_dynamic_shared(64 * 1024) == cudaSuccess);
    dynamic_shared_sum(x.get(), out.get(), 16384, nullptr);
    double want = 0.0;
    for (float v : random_values(16384, 25)) want += v;
    CHECK(std::fabs(out.download()[0] - want) < 1e-2);
  }
}

TEST_CASE("shared memory starts as poison in every block", "[simt][planted]") {
  if (elr::simt::checks().initcheck) {
    DeviceBuffer y(64);
    KernelError e = expect_fault([&] { uninitialized_shared(y.get(), nullptr); });
    CHECK(e.fault() == Fault::UninitializedRead);
    return;
  }
  for (int run = 0; run < 2; ++run) {  // the first run's values do not survive into the second
    DeviceBuffer y(64);
    uninitialized_shared(y.get(), nullptr);
    const auto got = y.download();
    for (int t = 0; t < 64; ++t) {
      INFO("thread " << t);
      CHECK((t < 32 ? got[size_t(t)] == 1.0f : std::isnan(got[size_t(t)])));
    }
  }
}
