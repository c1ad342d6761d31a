// The CUDA conv2d and linear (SGEMM) kernels of kernels/cuda against the CPU kernels, over the
// op-case table's conv and linear cases, 60 seeded random conv shapes (1x1 and 3x3, stride 1, 2 and 3,
// pad 0 and 1, C=1, odd H and W, channels above 32 for the 64-wide tiles, long n*p*q for the split
// weight gradient) and odd linear sizes. Built twice: through the CPU execution layer (CTest runs it
// under two ELR_SIMT_SCHEDULE values) and, with ELR_CONV_TESTS_ON_GPU, for a real GPU (gpu.conv;
// exits 77 without one), where it also checks the cuDNN / cuBLAS glue and the TF32 path against
// the table's double references. Besides the table's tolerances:
// - small integers, where every sum is exact in fp32: equal to the double reference;
// - every tile shape forced in turn;
// - outputs poisoned with NaN (DeviceRun), so an element no thread writes fails;
// - results bitwise identical across schedules and worker counts (on a GPU: across repeats).
#if defined(ELR_CONV_TESTS_ON_GPU)
#define CATCH_CONFIG_RUNNER
#else
#define CATCH_CONFIG_MAIN
#endif
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"
#include "kernels/optable/case_lists.h"
#include "kernels/optable/cuda_column.h"
#include "kernels/optable/ops.h"
#include "tests/op_sections.h"
#include "tests/simt/test_support.h"
#if defined(ELR_CONV_TESTS_ON_GPU)
#include "bench/gpu/vendor_peers.h"
#include "engine/cuda/runtime.h"
#else
#include "tests/simt/schedule_scope.h"
#endif

using namespace elr::kernels;
using elr::simt_tests::DeviceBuffer;

namespace {

// Forces a tile shape (or Auto) for one scope.
class TilesScope {
 public:
  explicit TilesScope(GemmTiles tiles) : saved_(cuda_gemm_tiles()) { set_cuda_gemm_tiles(tiles); }
  ~TilesScope() { set_cuda_gemm_tiles(saved_); }

 private:
  GemmTiles saved_;
};

#if defined(ELR_CONV_TESTS_ON_GPU)
// The GPU's own scheduling varies between runs: repeated runs must give the same bits.
class ScheduleScope {
 public:
  ScheduleScope(const std::string&, int) {}
};
#else
using elr::simt_tests::ScheduleScope;
#endif

std::vector<float> random_small_ints(size_t count, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(-3, 3);
  std::vector<float> v(count);
  for (auto& x : v) x = float(dist(rng));
  return v;
}

std::unique_ptr<DeviceBuffer> nan_output(size_t count) {
  return std::make_unique<DeviceBuffer>(std::vector<float>(count, std::numeric_limits<float>::quiet_NaN()));
}

// 60 seeded shapes (channels above 32 now and then: the 64-wide tiles); the first few are fixed
// to cover the corner cases whatever the generator does.
std::vector<Conv2dShape> random_shapes() {
  std::vector<Conv2dShape> shapes = {
      {1, 1, 1, 1, 1, 1, 1, 1, 0},    // everything 1
      {2, 1, 7, 9, 3, 3, 3, 1, 1},    // C=1, odd H and W
      {1, 3, 9, 7, 5, 3, 3, 2, 1},    // stride 2, odd sizes
      {2, 5, 8, 8, 7, 1, 1, 2, 0},    // 1x1 stride 2 (projection shortcut)
      {1, 4, 5, 6, 6, 1, 1, 1, 0},    // 1x1 stride 1
      {1, 2, 3, 3, 2, 3, 3, 1, 0},    // 3x3 without padding: 1x1 output
      {2, 3, 12, 12, 4, 3, 3, 1, 1},  // n*p*q = 288: the weight gradient splits over k
      {1, 2, 10, 11, 3, 3, 3, 3, 1},  // stride 3: nine data-gradient phases
      {2, 3, 8, 9, 4, 1, 1, 3, 1},    // 1x1 stride 3 with padding: phases no tap reaches
  };
  std::mt19937 rng(20240611);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  while (shapes.size() < 60) {
    Conv2dShape sh;
    sh.n = uniform(1, 3);
    sh.c = uniform(0, 3) == 0 ? 1 : uniform(0, 5) == 0 ? uniform(33, 40) : uniform(1, 9);
    sh.k = uniform(0, 5) == 0 ? uniform(33, 40) : uniform(1, 9);
    sh.h = uniform(1, 11);
    sh.w = uniform(1, 11);
    const bool one_by_one = uniform(0, 2) == 0;
    sh.r = sh.s = one_by_one ? 1 : 3;
    sh.stride = uniform(1, 2);
    sh.pad = one_by_one ? uniform(0, 3) / 3 : uniform(0, 3) > 0 ? 1 : 0;
    if (sh.h + 2 * sh.pad < sh.r || sh.w + 2 * sh.pad < sh.s) continue;
    shapes.push_back(sh);
  }
  return shapes;
}


const std::vector<LinearShape> kLinearShapes = {
    {1, 1, 1},    {3, 5, 7},     {33, 65, 17}, {17, 33, 65}, {64, 128, 10},
    {130, 36, 70}, {300, 5, 3}, {2, 64, 1},   {9, 12, 20},  {40, 68, 36}};  // the last two: float4 loads of dy

bool is_gemm(const OpCase& c) {
  switch (c.op()) {
    case Op::Conv2dForward: case Op::Conv2dBackwardData: case Op::Conv2dBackwardWeight:
    case Op::LinearForward: case Op::LinearBackward: return true;
    default: return false;
  }
}

std::vector<OpCasePtr> cases_of(const std::vector<Conv2dShape>& convs, const std::vector<LinearShape>& linears) {
  std::vector<OpCasePtr> cases;
  for (const Conv2dShape& s : convs)
    for (const OpCasePtr& c : conv2d_cases(s)) cases.push_back(c);
  for (const LinearShape& s : linears)
    for (const OpCasePtr& c : linear_cases(s)) cases.push_back(c);
  return cases;
}

// The table's conv and linear cases, the random conv shapes and the odd linear sizes.
std::vector<OpCasePtr> parity_cases() {
  std::vector<OpCasePtr> cases;
  for (const OpCasePtr& c : small_cases())
    if (is_gemm(*c)) cases.push_back(c);
  for (const OpCasePtr& c : cases_of(random_shapes(), kLinearShapes)) cases.push_back(c);
  return cases;
}

// `entry` on the device against the CPU entry, with the table's tolerances.
void check_parity(const OpCase& c, const OpEntry& entry = run_cuda) {
  const std::vector<Values> inputs = c.make_inputs();
  const CaseCheck check = check_case(c, run_on_device(c, entry, inputs), as_expected(run_on_host(c, run_cpu, inputs)));
  INFO(check.message);
  CHECK(check.ok);
}

// Small integers: every product and partial sum is an integer below 2^24, exact in fp32 (and TF32),
// so the CUDA result equals the double reference.
void check_exact(const OpCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::vector<TensorSpec> specs = c.tensors();
  std::vector<Values> inputs = c.make_inputs();
  for (size_t i = 0; i < specs.size(); ++i)
    if (!specs[i].written()) {
      const std::vector<float> v = random_small_ints(size_t(specs[i].count()), rng);
      inputs[i].assign(v.begin(), v.end());
    }
  const Tolerance exact{0, 0, 0, true};
  const CaseCheck check = check_case(c, run_on_device(c, run_cuda, inputs), c.reference(inputs), exact);
  INFO(check.message << " (small integers)");
  CHECK(check.ok);
}

}  // namespace

TEST_CASE("conv2d and linear CUDA kernels match the CPU kernels on the op cases and random shapes", "[cuda][conv]") {
  TilesScope tiles(GemmTiles::Auto);
  elr::testing::for_each_case(parity_cases(), [](const OpCase& c) { check_parity(c); });
}

TEST_CASE("conv2d and linear CUDA kernels are exact on small integers", "[cuda][conv]") {
  TilesScope tiles(GemmTiles::Auto);
  std::vector<Conv2dShape> shapes;
  const std::vector<Conv2dShape> all = random_shapes();
  for (size_t i = 0; i < all.size(); i += 3) shapes.push_back(all[i]);
  // Channel counts above 32 take the 64-wide tiles; long n*p*q splits the weight gradient.
  for (const Conv2dShape& sh : {Conv2dShape{2, 40, 6, 5, 36, 3, 3, 1, 1}, Conv2dShape{4, 3, 16, 16, 8, 3, 3, 1, 1},
                                Conv2dShape{3, 6, 15, 13, 40, 1, 1, 2, 0}})
    shapes.push_back(sh);
  uint32_t seed = 11;
  elr::testing::for_each_case(cases_of(shapes, kLinearShapes), [&](const OpCase& c) { check_exact(c, ++seed); });
}

TEST_CASE("conv2d and linear CUDA kernels agree under every tile shape", "[cuda][conv]") {
  const std::vector<OpCasePtr> cases =
      cases_of({{2, 3, 9, 11, 5, 3, 3, 1, 1}, {2, 36, 7, 7, 33, 3, 3, 2, 1}, {1, 8, 16, 16, 16, 1, 1, 1, 0},
                {3, 2, 10, 10, 3, 3, 3, 1, 0}},
               kLinearShapes);
  for (GemmTiles t : {GemmTiles::Tiles32, GemmTiles::Tiles64, GemmTiles::Tiles128}) {
    DYNAMIC_SECTION("tiles " << int(t)) {
      TilesScope tiles(t);
      uint32_t seed = 13;
      elr::testing::for_each_case(cases, [&](const OpCase& c) {
        check_parity(c);
        check_exact(c, ++seed);
      });
    }
  }
}

TEST_CASE("conv2d CUDA kernels give the same bits under every schedule and worker count", "[cuda][conv]") {
  const std::vector<OpCasePtr> cases = conv2d_cases(Conv2dShape{3, 5, 13, 11, 6, 3, 3, 1, 1});  // n*p*q = 429: split
  auto run_all = [&] {
    std::vector<double> all;
    for (const OpCasePtr& c : cases)
      for (const Values& v : run_on_device(*c, run_cuda, c->make_inputs())) all.insert(all.end(), v.begin(), v.end());
    return all;
  };
  std::vector<double> reference;
  {
    ScheduleScope scope("forward", 1);
    reference = run_all();
  }
  for (const char* schedule : {"reverse", "random:99"}) {
    ScheduleScope scope(schedule, 3);
    const std::vector<double> again = run_all();
    INFO("schedule " << schedule);
    REQUIRE(again.size() == reference.size());
    CHECK(std::memcmp(again.data(), reference.data(), again.size() * sizeof(double)) == 0);
  }
}

TEST_CASE("conv2d CUDA entry points reject bad shapes", "[cuda][conv]") {
  DeviceBuffer buf(16);
  Conv2dShape sh{1, 1, 2, 2, 0, 3, 3, 1, 1};
  CHECK_THROWS_AS(conv2d_forward_cuda(sh, buf.get(), buf.get(), buf.get(), nullptr), elr::Error);
  sh = Conv2dShape{1, 1, 1, 1, 1, 3, 3, 1, 0};  // 3x3 kernel on an unpadded 1x1 input
  CHECK_THROWS_AS(conv2d_backward_weight_cuda(sh, buf.get(), buf.get(), buf.get(), Workspace{}, nullptr), elr::Error);
  LinearShape lsh{0, 3, 4};
  CHECK_THROWS_AS(linear_forward_cuda(lsh, buf.get(), buf.get(), nullptr, buf.get(), nullptr), elr::Error);
}

TEST_CASE("linear backward skips null outputs and forward takes a null bias", "[cuda][linear]") {
  const LinearShape sh{5, 6, 7};
  std::mt19937 rng(29);
  const auto x = random_small_ints(30, rng), w = random_small_ints(42, rng), dy = random_small_ints(35, rng);
  DeviceBuffer dx_in(x), dw_in(w), ddy(dy);
  auto y = nan_output(35), dw = nan_output(42);
  linear_forward_cuda(sh, dx_in.get(), dw_in.get(), nullptr, y->get(), nullptr);
  const size_t bytes = linear_backward_workspace_bytes(sh);
  DeviceBuffer workspace(bytes / sizeof(float) + 1);
  linear_backward_cuda(sh, dx_in.get(), dw_in.get(), ddy.get(), nullptr, dw->get(), nullptr,
                       Workspace{workspace.get(), bytes}, nullptr);
  const std::vector<float> got_y = y->download(), got_dw = dw->download();
  for (int i = 0; i < sh.n; ++i)
    for (int o = 0; o < sh.out; ++o) {
      double want = 0;
      for (int j = 0; j < sh.in; ++j) want += double(x[i * sh.in + j]) * w[o * sh.in + j];
      CHECK(got_y[i * sh.out + o] == want);
    }
  for (int o = 0; o < sh.out; ++o)
    for (int j = 0; j < sh.in; ++j) {
      double want = 0;
      for (int i = 0; i < sh.n; ++i) want += double(dy[i * sh.out + o]) * x[i * sh.in + j];
      CHECK(got_dw[o * sh.in + j] == want);
    }
}

// ---- GPU only: the cuDNN / cuBLAS glue and the TF32 path against the double references ---------
#if defined(ELR_CONV_TESTS_ON_GPU)
namespace {

// `entry` on the device against the table's double reference (the benchmarks' validation).
void check_against_reference(const OpCase& c, const OpEntry& entry, const char* what) {
  const std::vector<Values> inputs = c.validation_inputs(c.make_inputs());
  const CaseCheck check = check_case(c, run_on_device(c, entry, inputs), c.reference(inputs));
  INFO(what << ": " << check.message);
  CHECK(check.ok);
}

}  // namespace

TEST_CASE("the conv kernels and the cuDNN glue agree with the direct loops on CIFAR layer shapes", "[gpu][conv]") {
  elr::bench::gpu::VendorPeers peers(nullptr);
  const std::vector<OpCasePtr> cases =
      cases_of({{8, 3, 32, 32, 16, 3, 3, 1, 1}, {8, 16, 32, 32, 16, 3, 3, 1, 1}, {8, 16, 32, 32, 32, 3, 3, 2, 1},
                {8, 32, 16, 16, 64, 1, 1, 2, 0}, {8, 64, 8, 8, 64, 3, 3, 1, 1}, {16, 128, 8, 8, 128, 3, 3, 1, 1}},
               {});
  elr::testing::for_each_case(cases, [&](const OpCase& c) {
    check_against_reference(c, run_cuda, "kernel");
    check_against_reference(c, peers.peer(c).run, "cuDNN");
  });
}

TEST_CASE("the SGEMM and the cuBLAS glue agree with double loops on the linear layer", "[gpu][linear]") {
  elr::bench::gpu::VendorPeers peers(nullptr);
  const std::vector<OpCasePtr> cases = cases_of({}, {{128, 64, 10}, {33, 65, 17}, {256, 512, 100}});
  elr::testing::for_each_case(cases, [&](const OpCase& c) {
    check_against_reference(c, run_cuda, "kernel");
    check_against_reference(c, peers.peer(c).run, "cuBLAS");
  });
}

TEST_CASE("the cuDNN batch norm glue matches the CPU batch norm", "[gpu][bn]") {
  elr::bench::gpu::VendorPeers peers(nullptr);
  const BatchNormShape sh{8, 16, 64};
  for (bool relu : {false, true}) {
    // |cuDNN - CPU| <= 1e-4 (1 + |CPU|): atol is per unit of sqrt(n * hw).
    const Tolerance tol{1e-4 / std::sqrt(double(sh.n) * sh.hw), 1e-4, std::numeric_limits<double>::infinity()};
    for (const OpCasePtr& c : {OpCasePtr(std::make_shared<BatchNormTrainForward>(sh, relu)),
                               OpCasePtr(std::make_shared<BatchNormBackward>(sh, relu))}) {
      const std::vector<Values> inputs = c->make_inputs();
      const CaseCheck check = check_case(*c, run_on_device(*c, peers.peer(*c).run, inputs),
                                         as_expected(run_on_host(*c, run_cpu, inputs)), tol);
      INFO(check.message);
      CHECK(check.ok);
    }
  }
}

// TF32 rounds both inputs of every product to 10-bit mantissas: each product carries up to 2^-10
// relative error, and the errors add up like a random walk over the reduction (atol x sqrt(length)).
TEST_CASE("the TF32 tensor-core path stays within the TF32 error bound", "[gpu][tf32]") {
  struct Tf32Scope {
    Tf32Scope() { set_cuda_conv_tf32(true); }
    ~Tf32Scope() { set_cuda_conv_tf32(false); }
  } tf32;
  const Tolerance tf32_bound{std::ldexp(1.0, -9), 1e-3, 1e-5};
  const std::vector<OpCasePtr> cases =
      cases_of({{8, 16, 32, 32, 16, 3, 3, 1, 1}, {8, 32, 16, 16, 64, 3, 3, 2, 1}, {4, 3, 9, 11, 5, 3, 3, 1, 1},
                {2, 40, 7, 7, 36, 1, 1, 2, 0}},
               {});
  elr::testing::for_each_case(cases, [&](const OpCase& c) {
    const std::vector<Values> inputs = c.validation_inputs(c.make_inputs());
    const CaseCheck check = check_case(c, run_on_device(c, run_cuda, inputs), c.reference(inputs), tf32_bound);
    INFO(check.message);
    CHECK(check.ok);
  });
  // Small integers are exact in TF32 too.
  uint32_t seed = 43;
  for (const OpCasePtr& c : conv2d_cases(Conv2dShape{4, 8, 12, 12, 8, 3, 3, 1, 1})) check_exact(*c, ++seed);
}

int main(int argc, char** argv) {
  if (elr::cuda::device_count() == 0) {
    std::printf("skipped: %s\n", elr::cuda::no_device_reason().c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
#endif
