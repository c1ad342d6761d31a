// The CUDA conv2d and linear (SGEMM) kernels against the direct-loop oracles of the CPU library.
// Built twice: through the CPU execution layer (CTest runs it under two ELR_SIMT_SCHEDULE values)
// and, with ELR_CONV_TESTS_ON_GPU, for a real GPU (gpu.conv; exits 77 without one), where it also
// checks the cuDNN / cuBLAS glue against the same oracles and the kernels against cuDNN / cuBLAS.
// - 60 seeded random conv shapes (1x1 and 3x3, stride 1, 2 and 3, pad 0 and 1, C=1, odd H and W) for
//   the forward and both backward passes, each element within an error bound derived from its own
//   sum of |products| (fp32 summation in any order: |err| <= ~K * 2^-24 * sum|a*b|);
// - the same passes on small integers, where every sum is exact in fp32, compared for equality;
// - every tile shape forced in turn, and shapes long enough to split the weight gradient over k;
// - linear forward, dx, dw and db on odd sizes;
// - outputs prefilled with NaN, so an element no thread writes fails;
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
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"
#include "tests/simt/test_support.h"
#if defined(ELR_CONV_TESTS_ON_GPU)
#include "engine/cuda/runtime.h"
#include "kernels/cublas_glue.h"
#include "kernels/cudnn_glue.h"
#else
#include "tests/simt/schedule_scope.h"
#endif

using namespace elr::kernels;
using elr::simt_tests::DeviceBuffer;

namespace {

constexpr double kUnitRoundoff = 1.0 / (1 << 24);

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

std::string describe(const Conv2dShape& sh) {
  std::ostringstream os;
  os << "x[" << sh.n << "," << sh.c << "," << sh.h << "," << sh.w << "] w[" << sh.k << "," << sh.c << ","
     << sh.r << "," << sh.s << "] stride " << sh.stride << " pad " << sh.pad << " -> " << sh.p() << "x"
     << sh.q();
  return os.str();
}

std::vector<float> random_floats(size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(rng);
  return v;
}
std::vector<float> random_small_ints(size_t count, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(-3, 3);
  std::vector<float> v(count);
  for (auto& x : v) x = float(dist(rng));
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }
std::vector<double> abs_values(const std::vector<float>& v) {
  std::vector<double> a(v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = std::fabs(double(v[i]));
  return a;
}

// A device output filled with NaN, so elements the kernel never writes fail every comparison.
std::unique_ptr<DeviceBuffer> nan_output(size_t count) {
  return std::make_unique<DeviceBuffer>(std::vector<float>(count, std::numeric_limits<float>::quiet_NaN()));
}

struct ConvSizes {
  size_t x, w, y;
};
ConvSizes sizes(const Conv2dShape& sh) {
  return {size_t(sh.n) * sh.c * sh.h * sh.w, size_t(sh.k) * sh.c * sh.r * sh.s,
          size_t(sh.n) * sh.k * sh.p() * sh.q()};
}

enum class Pass { Forward, BackwardData, BackwardWeight };
const char* name(Pass pass) {
  return pass == Pass::Forward ? "forward" : pass == Pass::BackwardData ? "backward data" : "backward weight";
}

// Runs one pass on the device: inputs (a, b) are (x, w), (dy, w) or (x, dy).
std::vector<float> run_cuda(Pass pass, const Conv2dShape& sh, const std::vector<float>& a,
                            const std::vector<float>& b) {
  const ConvSizes sz = sizes(sh);
  DeviceBuffer da(a), db(b);
  const size_t out = pass == Pass::Forward ? sz.y : pass == Pass::BackwardData ? sz.x : sz.w;
  auto dout = nan_output(out);
  switch (pass) {
    case Pass::Forward: conv2d_forward_cuda(sh, da.get(), db.get(), dout->get(), nullptr); break;
    case Pass::BackwardData: conv2d_backward_data_cuda(sh, da.get(), db.get(), dout->get(), nullptr); break;
    case Pass::BackwardWeight: {
      const size_t bytes = conv2d_backward_weight_workspace_bytes(sh);
      DeviceBuffer workspace(bytes / sizeof(float) + 1);
      conv2d_backward_weight_cuda(sh, da.get(), db.get(), dout->get(), Workspace{workspace.get(), bytes}, nullptr);
      break;
    }
  }
  return dout->download();
}

std::vector<double> run_naive(Pass pass, const Conv2dShape& sh, const std::vector<double>& a,
                              const std::vector<double>& b) {
  const ConvSizes sz = sizes(sh);
  std::vector<double> out(pass == Pass::Forward ? sz.y : pass == Pass::BackwardData ? sz.x : sz.w);
  switch (pass) {
    case Pass::Forward: conv2d_forward_naive<double>(sh, a.data(), b.data(), out.data()); break;
    case Pass::BackwardData: conv2d_backward_data_naive<double>(sh, a.data(), b.data(), out.data()); break;
    case Pass::BackwardWeight: conv2d_backward_weight_naive<double>(sh, a.data(), b.data(), out.data()); break;
  }
  return out;
}

// Length of each output's reduction: c*r*s, k*r*s (an upper bound on the taps that reach it), n*p*q.
int reduction_length(Pass pass, const Conv2dShape& sh) {
  return pass == Pass::Forward ? sh.c * sh.r * sh.s
                               : pass == Pass::BackwardData ? sh.k * sh.r * sh.s : sh.n * sh.p() * sh.q();
}

std::pair<std::vector<float>, std::vector<float>> inputs(Pass pass, const Conv2dShape& sh, std::mt19937& rng,
                                                         bool integers) {
  const ConvSizes sz = sizes(sh);
  auto gen = [&](size_t n) { return integers ? random_small_ints(n, rng) : random_floats(n, rng); };
  switch (pass) {
    case Pass::Forward: { auto x = gen(sz.x); return {x, gen(sz.w)}; }
    case Pass::BackwardData: { auto dy = gen(sz.y); return {dy, gen(sz.w)}; }
    default: { auto x = gen(sz.x); return {x, gen(sz.y)}; }
  }
}

// Checks one pass with random floats: every element within 2 (K + 2) u sum|a*b|, and returns the
// largest error as a fraction of its bound.
double check_random(Pass pass, const Conv2dShape& sh, std::mt19937& rng) {
  auto [a, b] = inputs(pass, sh, rng, false);
  const std::vector<float> got = run_cuda(pass, sh, a, b);
  const std::vector<double> want = run_naive(pass, sh, to_double(a), to_double(b));
  const std::vector<double> magnitude = run_naive(pass, sh, abs_values(a), abs_values(b));
  const double factor = 2.0 * (reduction_length(pass, sh) + 2) * kUnitRoundoff;
  double worst = 0.0;
  size_t bad = 0, first_bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = factor * magnitude[i] + 1e-30;
    const double err = std::fabs(double(got[i]) - want[i]);
    if (!(err <= bound)) {  // NaN fails too
      if (bad++ == 0) first_bad = i;
    } else if (err / bound > worst) {
      worst = err / bound;
    }
  }
  INFO(name(pass) << " " << describe(sh) << ": " << bad << " of " << got.size() << " elements off, first at "
                  << first_bad << " (got " << (got.empty() ? 0.f : got[first_bad]) << ", want "
                  << (want.empty() ? 0.0 : want[first_bad]) << ")");
  CHECK(bad == 0);
  return worst;
}

// Small integers: every product and partial sum is an integer below 2^24, so fp32 is exact.
void check_exact(Pass pass, const Conv2dShape& sh, std::mt19937& rng) {
  auto [a, b] = inputs(pass, sh, rng, true);
  const std::vector<float> got = run_cuda(pass, sh, a, b);
  const std::vector<double> want = run_naive(pass, sh, to_double(a), to_double(b));
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) bad += double(got[i]) != want[i];
  INFO(name(pass) << " " << describe(sh) << " (integers): " << bad << " of " << got.size() << " differ");
  CHECK(bad == 0);
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

}  // namespace

TEST_CASE("conv2d CUDA kernels match the direct loops on 60 random shapes", "[cuda][conv]") {
  TilesScope tiles(GemmTiles::Auto);
  std::mt19937 rng(7);
  double worst = 0.0;
  for (const Conv2dShape& sh : random_shapes())
    for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight})
      worst = std::max(worst, check_random(pass, sh, rng));
  WARN("conv2d: largest error as a fraction of its bound: " << worst);
}

TEST_CASE("conv2d CUDA kernels are exact on small integers", "[cuda][conv]") {
  TilesScope tiles(GemmTiles::Auto);
  std::mt19937 rng(11);
  const std::vector<Conv2dShape> shapes = random_shapes();
  for (size_t i = 0; i < shapes.size(); i += 3)
    for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight}) check_exact(pass, shapes[i], rng);
  // Channel counts above 32 take the 64-wide tiles; long n*p*q splits the weight gradient.
  for (const Conv2dShape& sh : {Conv2dShape{2, 40, 6, 5, 36, 3, 3, 1, 1}, Conv2dShape{4, 3, 16, 16, 8, 3, 3, 1, 1},
                                Conv2dShape{3, 6, 15, 13, 40, 1, 1, 2, 0}})
    for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight}) check_exact(pass, sh, rng);
}

TEST_CASE("conv2d CUDA kernels agree under every tile shape", "[cuda][conv]") {
  std::mt19937 rng(13);
  const std::vector<Conv2dShape> shapes = {{2, 3, 9, 11, 5, 3, 3, 1, 1}, {2, 36, 7, 7, 33, 3, 3, 2, 1},
                                           {1, 8, 16, 16, 16, 1, 1, 1, 0}, {3, 2, 10, 10, 3, 3, 3, 1, 0}};
  for (GemmTiles t : {GemmTiles::Tiles32, GemmTiles::Tiles64, GemmTiles::Tiles128}) {
    TilesScope tiles(t);
    INFO("tiles " << int(t));
    for (const Conv2dShape& sh : shapes)
      for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight}) {
        check_random(pass, sh, rng);
        check_exact(pass, sh, rng);
      }
  }
}

TEST_CASE("conv2d CUDA kernels give the same bits under every schedule and worker count", "[cuda][conv]") {
  const Conv2dShape sh{3, 5, 13, 11, 6, 3, 3, 1, 1};  // n*p*q = 429: split weight gradient
  std::mt19937 rng(17);
  const ConvSizes sz = sizes(sh);
  const auto x = random_floats(sz.x, rng), w = random_floats(sz.w, rng), dy = random_floats(sz.y, rng);
  auto run_all = [&] {
    std::vector<float> all = run_cuda(Pass::Forward, sh, x, w);
    for (float v : run_cuda(Pass::BackwardData, sh, dy, w)) all.push_back(v);
    for (float v : run_cuda(Pass::BackwardWeight, sh, x, dy)) all.push_back(v);
    return all;
  };
  std::vector<float> reference;
  {
    ScheduleScope scope("forward", 1);
    reference = run_all();
  }
  for (const char* schedule : {"reverse", "random:99"}) {
    ScheduleScope scope(schedule, 3);
    const std::vector<float> again = run_all();
    INFO("schedule " << schedule);
    REQUIRE(again.size() == reference.size());
    CHECK(std::memcmp(again.data(), reference.data(), again.size() * sizeof(float)) == 0);
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

// ---- linear ------------------------------------------------------------------------------------
namespace {

struct LinearResult {
  std::vector<float> y, dx, dw, db;
};

LinearResult run_linear_cuda(const LinearShape& sh, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& b, const std::vector<float>& dy) {
  DeviceBuffer dx_in(x), dw_in(w), db_in(b), ddy(dy);
  auto y = nan_output(size_t(sh.n) * sh.out), dx = nan_output(x.size()), dw = nan_output(w.size()),
       db = nan_output(b.size());
  linear_forward_cuda(sh, dx_in.get(), dw_in.get(), db_in.get(), y->get(), nullptr);
  const size_t bytes = linear_backward_workspace_bytes(sh);
  DeviceBuffer workspace(bytes / sizeof(float) + 1);
  linear_backward_cuda(sh, dx_in.get(), dw_in.get(), ddy.get(), dx->get(), dw->get(), db->get(),
                       Workspace{workspace.get(), bytes}, nullptr);
  return {y->download(), dx->download(), dw->download(), db->download()};
}

// Double-precision loops: value and sum of |terms| of each output.
struct Reference {
  std::vector<double> value, magnitude;
  int length;
};
Reference reference_linear(const LinearShape& sh, const std::vector<float>& x, const std::vector<float>& w,
                           const std::vector<float>& b, const std::vector<float>& dy, const char* which) {
  const std::string out(which);
  Reference r;
  auto add = [&](size_t i, double term) { r.value[i] += term, r.magnitude[i] += std::fabs(term); };
  if (out == "y") {
    r = {std::vector<double>(size_t(sh.n) * sh.out), std::vector<double>(size_t(sh.n) * sh.out), sh.in + 1};
    for (int i = 0; i < sh.n; ++i)
      for (int o = 0; o < sh.out; ++o) {
        add(size_t(i) * sh.out + o, b[o]);
        for (int j = 0; j < sh.in; ++j)
          add(size_t(i) * sh.out + o, double(x[size_t(i) * sh.in + j]) * w[size_t(o) * sh.in + j]);
      }
  } else if (out == "dx") {
    r = {std::vector<double>(x.size()), std::vector<double>(x.size()), sh.out};
    for (int i = 0; i < sh.n; ++i)
      for (int j = 0; j < sh.in; ++j)
        for (int o = 0; o < sh.out; ++o)
          add(size_t(i) * sh.in + j, double(dy[size_t(i) * sh.out + o]) * w[size_t(o) * sh.in + j]);
  } else if (out == "dw") {
    r = {std::vector<double>(w.size()), std::vector<double>(w.size()), sh.n};
    for (int o = 0; o < sh.out; ++o)
      for (int j = 0; j < sh.in; ++j)
        for (int i = 0; i < sh.n; ++i)
          add(size_t(o) * sh.in + j, double(dy[size_t(i) * sh.out + o]) * x[size_t(i) * sh.in + j]);
  } else {
    r = {std::vector<double>(b.size()), std::vector<double>(b.size()), 1};  // summed in double
    for (int i = 0; i < sh.n; ++i)
      for (int o = 0; o < sh.out; ++o) add(size_t(o), dy[size_t(i) * sh.out + o]);
  }
  return r;
}

void check_linear_result(const LinearShape& sh, const std::vector<float>& x, const std::vector<float>& w,
                         const std::vector<float>& b, const std::vector<float>& dy, const LinearResult& got,
                         bool integers, const char* label) {
  const std::pair<const char*, const std::vector<float>*> outputs[] = {
      {"y", &got.y}, {"dx", &got.dx}, {"dw", &got.dw}, {"db", &got.db}};
  for (const auto& [which, values] : outputs) {
    const Reference want = reference_linear(sh, x, w, b, dy, which);
    const double factor = integers ? 0.0 : 2.0 * (want.length + 2) * kUnitRoundoff;
    size_t bad = 0;
    for (size_t i = 0; i < values->size(); ++i) {
      const double err = std::fabs(double((*values)[i]) - want.value[i]);
      bad += !(err <= factor * want.magnitude[i] + (integers ? 0.0 : 1e-30));
    }
    INFO(label << " linear " << which << " [n=" << sh.n << ", in=" << sh.in << ", out=" << sh.out << "]"
               << (integers ? " integers" : "") << ": " << bad << " of " << values->size() << " off");
    CHECK(values->size() == want.value.size());
    CHECK(bad == 0);
  }
}

void check_linear(const LinearShape& sh, std::mt19937& rng, bool integers) {
  auto gen = [&](size_t n) { return integers ? random_small_ints(n, rng) : random_floats(n, rng); };
  const auto x = gen(size_t(sh.n) * sh.in), w = gen(size_t(sh.out) * sh.in), b = gen(size_t(sh.out)),
             dy = gen(size_t(sh.n) * sh.out);
  check_linear_result(sh, x, w, b, dy, run_linear_cuda(sh, x, w, b, dy), integers, "kernel");
}

const std::vector<LinearShape> kLinearShapes = {
    {1, 1, 1},    {3, 5, 7},     {33, 65, 17}, {17, 33, 65}, {64, 128, 10},
    {130, 36, 70}, {300, 5, 3}, {2, 64, 1},   {9, 12, 20},  {40, 68, 36}};  // the last two: float4 loads of dy

}  // namespace

TEST_CASE("linear CUDA kernels match double loops on odd sizes", "[cuda][linear]") {
  std::mt19937 rng(23);
  for (GemmTiles t : {GemmTiles::Auto, GemmTiles::Tiles32, GemmTiles::Tiles64, GemmTiles::Tiles128}) {
    TilesScope tiles(t);
    INFO("tiles " << int(t));
    for (const LinearShape& sh : kLinearShapes) {
      check_linear(sh, rng, false);
      check_linear(sh, rng, true);
    }
  }
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

// ---- GPU only: the cuDNN / cuBLAS glue against the same oracles, next to the kernels ------------
#if defined(ELR_CONV_TESTS_ON_GPU)
namespace {

// Elements outside the summation bound around the double-precision oracle.
// per_product: the relative error of each product before summation (TF32 rounds both inputs).
size_t outside_bound(const std::vector<float>& got, const std::vector<double>& want,
                     const std::vector<double>& magnitude, int length, double per_product = 0.0) {
  const double factor = 2.0 * (per_product + (length + 2) * kUnitRoundoff);
  size_t bad = got.size() == want.size() ? 0 : got.size() + 1;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    bad += !(std::fabs(double(got[i]) - want[i]) <= factor * magnitude[i] + 1e-30);
  return bad;
}

std::vector<float> run_cudnn(elr::vendor::Cudnn& cudnn, Pass pass, const Conv2dShape& sh, const std::vector<float>& a,
                             const std::vector<float>& b) {
  const ConvSizes sz = sizes(sh);
  DeviceBuffer da(a), db(b);
  auto dout = nan_output(pass == Pass::Forward ? sz.y : pass == Pass::BackwardData ? sz.x : sz.w);
  switch (pass) {
    case Pass::Forward: cudnn.conv2d_forward(sh, da.get(), db.get(), dout->get()); break;
    case Pass::BackwardData: cudnn.conv2d_backward_data(sh, da.get(), db.get(), dout->get()); break;
    case Pass::BackwardWeight: cudnn.conv2d_backward_weight(sh, da.get(), db.get(), dout->get()); break;
  }
  return dout->download();
}

}  // namespace

TEST_CASE("the conv kernels and the cuDNN glue agree with the direct loops on CIFAR layer shapes", "[gpu][conv]") {
  elr::vendor::Cudnn cudnn;
  std::mt19937 rng(31);
  const std::vector<Conv2dShape> shapes = {{8, 3, 32, 32, 16, 3, 3, 1, 1},  {8, 16, 32, 32, 16, 3, 3, 1, 1},
                                           {8, 16, 32, 32, 32, 3, 3, 2, 1}, {8, 32, 16, 16, 64, 1, 1, 2, 0},
                                           {8, 64, 8, 8, 64, 3, 3, 1, 1},   {16, 128, 8, 8, 128, 3, 3, 1, 1}};
  for (const Conv2dShape& sh : shapes)
    for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight}) {
      auto [a, b] = inputs(pass, sh, rng, false);
      const std::vector<double> want = run_naive(pass, sh, to_double(a), to_double(b));
      const std::vector<double> magnitude = run_naive(pass, sh, abs_values(a), abs_values(b));
      const int length = reduction_length(pass, sh);
      INFO(name(pass) << " " << describe(sh));
      CHECK(outside_bound(run_cuda(pass, sh, a, b), want, magnitude, length) == 0);
      CHECK(outside_bound(run_cudnn(cudnn, pass, sh, a, b), want, magnitude, length) == 0);
    }
}

TEST_CASE("the SGEMM and the cuBLAS glue agree with double loops on the linear layer", "[gpu][linear]") {
  elr::vendor::Cublas cublas;
  std::mt19937 rng(37);
  for (const LinearShape& sh : {LinearShape{128, 64, 10}, LinearShape{33, 65, 17}, LinearShape{256, 512, 100}}) {
    const auto x = random_floats(size_t(sh.n) * sh.in, rng), w = random_floats(size_t(sh.out) * sh.in, rng),
               b = random_floats(size_t(sh.out), rng), dy = random_floats(size_t(sh.n) * sh.out, rng);
    check_linear_result(sh, x, w, b, dy, run_linear_cuda(sh, x, w, b, dy), false, "kernel");
    DeviceBuffer dx_in(x), dw_in(w), db_in(b), ddy(dy);
    auto y = nan_output(size_t(sh.n) * sh.out), dx = nan_output(x.size()), dw = nan_output(w.size()),
         db = nan_output(b.size());
    cublas.linear_forward(sh, dx_in.get(), dw_in.get(), db_in.get(), y->get());
    cublas.linear_backward(sh, dx_in.get(), dw_in.get(), ddy.get(), dx->get(), dw->get(), db->get());
    check_linear_result(sh, x, w, b, dy, {y->download(), dx->download(), dw->download(), db->download()}, false,
                        "cuBLAS");
  }
}

TEST_CASE("the cuDNN batch norm glue matches the CPU batch norm", "[gpu][bn]") {
  const BatchNormShape sh{8, 16, 64};
  const size_t count = size_t(sh.n) * sh.c * sh.hw, c = size_t(sh.c);
  std::mt19937 rng(41);
  for (bool relu : {false, true}) {
    BatchNormParams p;
    p.relu = relu;
    const auto x = random_floats(count, rng), gamma = random_floats(c, rng), beta = random_floats(c, rng),
               dy = random_floats(count, rng);
    std::vector<float> y(count), mean(c), invstd(c), rmean(c, 0.0f), rvar(c, 1.0f), dx(count), dgamma(c), dbeta(c);
    batchnorm_forward_train_cpu(sh, p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(),
                                rmean.data(), rvar.data());
    batchnorm_backward_cpu(sh, p, x.data(), y.data(), dy.data(), gamma.data(), mean.data(), invstd.data(), dx.data(),
                           dgamma.data(), dbeta.data());

    elr::vendor::Cudnn cudnn;
    DeviceBuffer d_x(x), d_gamma(gamma), d_beta(beta), d_dy(dy), d_rmean(std::vector<float>(c, 0.0f)),
        d_rvar(std::vector<float>(c, 1.0f));
    auto d_y = nan_output(count), d_mean = nan_output(c), d_invstd = nan_output(c), d_dx = nan_output(count),
         d_dgamma = nan_output(c), d_dbeta = nan_output(c);
    cudnn.batchnorm_forward_train(sh, p, d_x.get(), d_gamma.get(), d_beta.get(), d_y->get(), d_mean->get(),
                                  d_invstd->get(), d_rmean.get(), d_rvar.get());
    cudnn.batchnorm_backward(sh, p, d_x.get(), d_y->get(), d_dy.get(), d_gamma.get(), d_mean->get(), d_invstd->get(),
                             d_dx->get(), d_dgamma->get(), d_dbeta->get());
    const std::pair<const char*, std::pair<std::vector<float>, std::vector<float>>> pairs[] = {
        {"y", {d_y->download(), y}},           {"save_mean", {d_mean->download(), mean}},
        {"save_invstd", {d_invstd->download(), invstd}}, {"running_mean", {d_rmean.download(), rmean}},
        {"running_var", {d_rvar.download(), rvar}},      {"dx", {d_dx->download(), dx}},
        {"dgamma", {d_dgamma->download(), dgamma}},      {"dbeta", {d_dbeta->download(), dbeta}}};
    for (const auto& [what, values] : pairs) {
      INFO("batch norm " << what << (relu ? " (relu)" : ""));
      CHECK(elr::simt_tests::max_relative_error(values.first, values.second) < 1e-4);
    }
  }
}

TEST_CASE("the TF32 tensor-core path stays within the TF32 error bound", "[gpu][tf32]") {
  struct Tf32Scope {
    Tf32Scope() { set_cuda_conv_tf32(true); }
    ~Tf32Scope() { set_cuda_conv_tf32(false); }
  } tf32;
  std::mt19937 rng(43);
  const double per_product = 2.0 * std::ldexp(1.0, -11);  // both inputs rounded to 10-bit mantissas
  for (const Conv2dShape& sh : {Conv2dShape{8, 16, 32, 32, 16, 3, 3, 1, 1}, Conv2dShape{8, 32, 16, 16, 64, 3, 3, 2, 1},
                                Conv2dShape{4, 3, 9, 11, 5, 3, 3, 1, 1}, Conv2dShape{2, 40, 7, 7, 36, 1, 1, 2, 0}})
    for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight}) {
      auto [a, b] = inputs(pass, sh, rng, false);
      const std::vector<double> want = run_naive(pass, sh, to_double(a), to_double(b));
      const std::vector<double> magnitude = run_naive(pass, sh, abs_values(a), abs_values(b));
      INFO("TF32 " << name(pass) << " " << describe(sh));
      CHECK(outside_bound(run_cuda(pass, sh, a, b), want, magnitude, reduction_length(pass, sh), per_product) == 0);
    }
  // Small integers are exact in TF32 too.
  for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight})
    check_exact(pass, Conv2dShape{4, 8, 12, 12, 8, 3, 3, 1, 1}, rng);
}

int main(int argc, char** argv) {
  if (elr::cuda::device_count() == 0) {
    std::printf("skipped: %s\n", elr::cuda::no_device_reason().c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
#endif
