// The memory checks (racecheck, initcheck, memcheck, racecheck-global), in the checked binary only:
// one planted bug per check must be reported, naming the kernel, the check and the place, and
// the correct twin of each must pass.
#include <catch2/catch.hpp>

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

TEST_CASE("racecheck: a tree reduction missing its __syncthreads is a read-after-write hazard", "[checks][planted]") {
  REQUIRE(elr::simt::checks().racecheck);
  const int blocks = 3;
  const auto x = random_values(256 * blocks, 30);
  DeviceBuffer dx(x), out(static_cast<size_t>(blocks));
  tree_sum(dx.get(), out.get(), blocks, true, nullptr);
  const auto sums = out.download();
  for (int b = 0; b < blocks; ++b) {
    double want = 0.0;
    for (int i = 0; i < 256; ++i) want += x[size_t(b * 256 + i)];
    CHECK(std::fabs(sums[size_t(b)] - want) < 1e-4);
  }
  KernelError e = expect_fault([&] { tree_sum(dx.get(), out.get(), blocks, false, nullptr); });
  INFO(e.what());
  CHECK(e.fault() == Fault::SharedRace);
  CHECK(contains(e.what(), "racecheck: shared memory race in kernel 'tree_sum_kernel'"));
  CHECK(contains(e.what(), "read-after-write hazard"));
  CHECK(contains(e.what(), "tree_sum_kernel(float const*, float*, bool)::partial"));
  CHECK(contains(e.what(), "planted_bugs.cu:"));
}

TEST_CASE("racecheck: __syncwarp orders shared memory within a warp", "[checks][planted]") {
  REQUIRE(elr::simt::checks().racecheck);
  ScheduleScope scope("forward", 1);
  DeviceBuffer y(64);
  warp_broadcast(y.get(), true, nullptr);
  const auto got = y.download();
  for (int t = 0; t < 64; ++t) CHECK(got[size_t(t)] == float(t / 32 + 1));
  KernelError e = expect_fault([&] { warp_broadcast(y.get(), false, nullptr); });
  INFO(e.what());
  CHECK(e.fault() == Fault::SharedRace);
  CHECK(contains(e.what(), "'warp_broadcast_kernel'"));
  CHECK(contains(e.what(), "thread (1,0,0) reads"));
  CHECK(contains(e.what(), "which thread (0,0,0) wrote at"));
}

TEST_CASE("initcheck: a read of shared memory no thread wrote", "[checks][planted]") {
  REQUIRE(elr::simt::checks().initcheck);
  DeviceBuffer y(64);
  KernelError e = expect_fault([&] { uninitialized_shared(y.get(), nullptr); });
  INFO(e.what());
  CHECK(e.fault() == Fault::UninitializedRead);
  CHECK(contains(e.what(), "initcheck: uninitialized read in kernel 'uninitialized_shared_kernel'"));
  CHECK(contains(e.what(), "uninitialized_shared_kernel(float*)::cache"));
  CHECK(contains(e.what(), "planted_bugs.cu:"));
}

TEST_CASE("initcheck: a read of device memory nothing wrote", "[checks][planted]") {
  REQUIRE(elr::simt::checks().initcheck);
  const auto x = random_values(100, 31);
  DeviceBuffer dx(x), y(100);  // y never written: axpy reads it
  KernelError e = expect_fault([&] { axpy(2.0f, dx.get(), y.get(), 100, nullptr); });
  INFO(e.what());
  CHECK(e.fault() == Fault::UninitializedRead);
  CHECK(contains(e.what(), "initcheck: uninitialized read in kernel 'axpy_kernel'"));
  CHECK(contains(e.what(), "into a 400-byte device allocation"));
  CHECK(contains(e.what(), "reduce.cu:"));
  // Copies and memsets count as writes.
  check_cuda(cudaMemset(y.get(), 0, 100 * sizeof(float)), "memset");
  axpy(2.0f, dx.get(), y.get(), 100, nullptr);
  CHECK(y.download()[5] == 2.0f * x[5]);
}

TEST_CASE("memcheck: an off-by-one global write", "[checks][planted]") {
  REQUIRE(elr::simt::checks().memcheck);
  DeviceBuffer y(100);
  KernelError e = expect_fault([&] { off_by_one(y.get(), 100, nullptr); });
  INFO(e.what());
  CHECK(e.fault() == Fault::OutOfBounds);
  CHECK(contains(e.what(), "memcheck: out-of-bounds access in kernel 'off_by_one_kernel'"));
  CHECK(contains(e.what(), "thread (36,0,0) writes 4 bytes"));
  CHECK(contains(e.what(), "0 bytes past the end of a 400-byte device allocation"));
  CHECK(contains(e.what(), "planted_bugs.cu:"));
}

TEST_CASE("memcheck: an access to freed device memory", "[checks][planted]") {
  REQUIRE(elr::simt::checks().memcheck);
  float* stale = nullptr;
  {
    DeviceBuffer y(64);
    stale = y.get();
  }
  KernelError e = expect_fault([&] { same_element(stale, nullptr); });
  CHECK(e.fault() == Fault::OutOfBounds);
  CHECK(contains(e.what(), "into a freed 256-byte device allocation"));
}

TEST_CASE("racecheck-global: threads of one launch writing the same element", "[checks][planted]") {
  ScheduleScope scope("forward", 1);
  DeviceBuffer y(1);
  if (!elr::simt::checks().global_racecheck) {  // off unless asked for (ctest's simt-check asks)
    same_element(y.get(), nullptr);
    CHECK(y.download()[0] >= 0.0f);
    return;
  }
  KernelError e = expect_fault([&] { same_element(y.get(), nullptr); });
  INFO(e.what());
  CHECK(e.fault() == Fault::GlobalRace);
  CHECK(contains(e.what(), "racecheck: global memory write conflict in kernel 'same_element_kernel'"));
  CHECK(contains(e.what(), "which thread (0,0,0) of block 0 (linear) of this launch wrote too"));
}
