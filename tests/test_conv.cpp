// conv2d on the CPU beyond the op-case table (tests/test_op_table.cpp checks the fast path against
// the naive oracle and its gradients against finite differences on the table's cases): the oracle
// against a hand-computed example, the fast path against the oracle on random shapes, for every
// chunk size and at the direct path's edges, its independence of the thread count, and bad shapes.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/error.h"
#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/im2col.h"
#include "kernels/kernels.h"
#include "kernels/optable/ops.h"
#include "kernels/optable/random.h"

using namespace elr;
using kernels::Conv2dShape;

namespace {

int64_t input_size(const Conv2dShape& s) { return int64_t(s.n) * s.c * s.h * s.w; }
int64_t weight_size(const Conv2dShape& s) { return int64_t(s.k) * s.c * s.r * s.s; }
int64_t output_size(const Conv2dShape& s) { return int64_t(s.n) * s.k * s.p() * s.q(); }

using kernels::random_floats;

// Random shapes, seeded: 1x1, 3x3, 5x5 and non-square kernels, strides 1-3, padding 0-2, C = 1,
// odd H and W, batch up to 8, channels up to 17. Every fifth case is the 1x1 stride-1 pad-0
// special case, every fifth (offset) has stride 2, every seventh has C = 1.
std::vector<Conv2dShape> random_conv_cases(int count, uint32_t seed) {
  std::mt19937 gen(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  const int kernel_sizes[] = {1, 2, 3, 3, 5};
  std::vector<Conv2dShape> cases;
  for (int i = 0; static_cast<int>(cases.size()) < count; ++i) {
    Conv2dShape s;
    s.n = uniform(1, 8);
    s.c = i % 7 == 0 ? 1 : uniform(1, 17);
    s.k = uniform(1, 17);
    s.h = uniform(1, 15);
    s.w = uniform(1, 15);
    s.r = kernel_sizes[uniform(0, 4)];
    s.s = uniform(0, 3) == 0 ? kernel_sizes[uniform(0, 4)] : s.r;
    s.stride = uniform(1, 3);
    s.pad = uniform(0, 2);
    if (i % 5 == 0) s.r = s.s = s.stride = 1, s.pad = 0;
    if (i % 5 == 1) s.stride = 2;
    if (s.h + 2 * s.pad < s.r || s.w + 2 * s.pad < s.s) continue;  // the kernel does not fit
    cases.push_back(s);
  }
  cases.push_back(Conv2dShape{8, 17, 9, 11, 17, 3, 3, 1, 1});  // the largest sizes together
  cases.push_back(Conv2dShape{8, 16, 8, 8, 16, 1, 1, 1, 0});  // 1x1 at the largest batch
  return cases;
}

// Runs the fast path (with the chunk size it picks, or `chunk` images per GEMM when positive) on
// the table's three cases of one shape and checks every output against the double oracle.
void check_against_oracle(const Conv2dShape& s, int chunk = 0) {
  INFO(fmt::format("images per chunk: {}", chunk > 0 ? chunk : kernels::detail::conv2d_images_per_chunk(s)));
  // The fast path, or its chunked pieces with the chunk forced.
  const kernels::OpEntry fast = [chunk](const kernels::OpCase& c, const kernels::OpArgs& a) {
    if (chunk <= 0) return c.cpu(a);
    const float* in0 = a.at<float>(0);
    const float* in1 = a.at<float>(1);
    float* out = a.at<float>(2);
    switch (c.op()) {
      case kernels::Op::Conv2dForward:
        return kernels::detail::conv2d_forward_chunked(kernels::as<kernels::Conv2dForward>(c).shape, in0, in1, out,
                                                       chunk);
      case kernels::Op::Conv2dBackwardData:
        return kernels::detail::conv2d_backward_data_chunked(kernels::as<kernels::Conv2dBackwardData>(c).shape, in0,
                                                             in1, out, chunk);
      default:
        return kernels::detail::conv2d_backward_weight_chunked(kernels::as<kernels::Conv2dBackwardWeight>(c).shape, in0,
                                                               in1, out, chunk);
    }
  };
  for (const kernels::OpCasePtr& c : kernels::conv2d_cases(s)) {
    const std::vector<kernels::Values> inputs = c->validation_inputs(c->make_inputs());
    const kernels::CaseCheck check =
        kernels::check_case(*c, kernels::run_on_host(*c, fast, inputs), c->reference(inputs));
    INFO(check.message);
    CHECK(check.ok);
  }
}

struct ConvOutputs {
  std::vector<float> y, dx, dw;
};
ConvOutputs run_fast(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
                     const std::vector<float>& dy) {
  ConvOutputs out{std::vector<float>(output_size(s)), std::vector<float>(input_size(s)),
                  std::vector<float>(weight_size(s))};
  kernels::conv2d_forward_cpu(s, x.data(), w.data(), out.y.data());
  kernels::conv2d_backward_data_cpu(s, dy.data(), w.data(), out.dx.data());
  kernels::conv2d_backward_weight_cpu(s, x.data(), dy.data(), out.dw.data());
  return out;
}
bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("conv2d naive oracle matches a hand-computed example", "[conv]") {
  // x = 1..9 in a 3x3 image, a 2x2 kernel [[1, 2], [3, 4]], stride 1, pad 0 -> 2x2 output:
  // y[0][0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, y[0][1] = 2 + 6 + 15 + 24 = 47,
  // y[1][0] = 4 + 10 + 21 + 32 = 67,     y[1][1] = 5 + 12 + 24 + 36 = 77.
  Conv2dShape s{1, 1, 3, 3, 1, 2, 2, 1, 0};
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w = {1, 2, 3, 4};
  std::vector<double> y(4);
  kernels::conv2d_forward_naive(s, x.data(), w.data(), y.data());
  CHECK(y == std::vector<double>{37, 47, 67, 77});

  // dy = [[1, 0], [0, 2]]: dx = the kernel placed at (0, 0) plus twice the kernel placed at (1, 1).
  const std::vector<double> dy = {1, 0, 0, 2};
  std::vector<double> dx(9);
  kernels::conv2d_backward_data_naive(s, dy.data(), w.data(), dx.data());
  CHECK(dx == std::vector<double>{1, 2, 0, 3, 4 + 2, 4, 0, 6, 8});
  // dw[r][s] = x[r][s] * 1 + x[r + 1][s + 1] * 2.
  std::vector<double> dw(4);
  kernels::conv2d_backward_weight_naive(s, x.data(), dy.data(), dw.data());
  CHECK(dw == std::vector<double>{1 + 10, 2 + 12, 4 + 16, 5 + 18});

  // Padding and stride: 3x3 all-ones kernel, pad 1, stride 2 on the same image -> 2x2 output,
  // each the sum of the in-bounds 3x3 neighbourhood of pixels (0, 0), (0, 2), (2, 0), (2, 2).
  Conv2dShape padded{1, 1, 3, 3, 1, 3, 3, 2, 1};
  const std::vector<double> ones(9, 1.0);
  kernels::conv2d_forward_naive(padded, x.data(), ones.data(), y.data());
  CHECK(y == std::vector<double>{1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9});

  // Two channels and two filters: filter k sees channel c with weight (k + 1) * (c + 1) (1x1).
  Conv2dShape pointwise{1, 2, 1, 2, 2, 1, 1, 1, 0};
  const std::vector<double> x2 = {1, 2, 10, 20}, w2 = {1, 2, 2, 4};
  std::vector<double> y2(4);
  kernels::conv2d_forward_naive(pointwise, x2.data(), w2.data(), y2.data());
  CHECK(y2 == std::vector<double>{21, 42, 42, 84});
}

TEST_CASE("conv2d fast path matches the naive oracle on random shapes", "[conv]") {
  const std::vector<Conv2dShape> cases = random_conv_cases(40, 2024);
  REQUIRE(cases.size() >= 30);
  int pointwise = 0, strided = 0, single_channel = 0;
  for (const Conv2dShape& s : cases) {
    pointwise += s.r == 1 && s.s == 1 && s.stride == 1 && s.pad == 0;
    strided += s.stride == 2;
    single_channel += s.c == 1;
    check_against_oracle(s);
  }
  CHECK(pointwise >= 5);
  CHECK(strided >= 5);
  CHECK(single_channel >= 3);
}

TEST_CASE("conv2d fast path matches the naive oracle for every chunk size", "[conv]") {
  // The public entry points pick one chunk size per shape; every size must be correct, including
  // a last chunk shorter than the others and more chunks than weight-gradient groups.
  for (const Conv2dShape& s : {Conv2dShape{7, 3, 6, 5, 4, 3, 3, 1, 1}, Conv2dShape{11, 2, 9, 7, 3, 3, 3, 2, 1},
                               Conv2dShape{5, 6, 4, 3, 5, 1, 1, 1, 0}, Conv2dShape{19, 2, 3, 3, 2, 1, 1, 1, 0}}) {
    for (int chunk : {1, 2, 3, 8, 32}) check_against_oracle(s, chunk);
  }
}

TEST_CASE("conv2d direct stride-1 path matches the naive oracle at its edges", "[conv][direct]") {
  // Channel counts around the register blocks (8 output channels; 16 or 32 for the weight
  // gradient, two input channels when 16), 1x1 and wide images, pad 0 to 2, non-square kernels
  // (forward and backward-data only), batches that split into uneven groups.
  for (const Conv2dShape& s :
       {Conv2dShape{1, 1, 1, 1, 1, 3, 3, 1, 1}, Conv2dShape{3, 5, 7, 9, 17, 3, 3, 1, 1},
        Conv2dShape{2, 4, 6, 5, 40, 3, 3, 1, 2}, Conv2dShape{9, 3, 8, 8, 16, 3, 3, 1, 0},
        Conv2dShape{2, 2, 5, 33, 8, 3, 3, 1, 1}, Conv2dShape{2, 3, 4, 4, 5, 2, 3, 1, 1},
        Conv2dShape{3, 7, 6, 6, 9, 5, 5, 1, 2}, Conv2dShape{4, 16, 32, 32, 16, 3, 3, 1, 1},
        Conv2dShape{2, 64, 8, 8, 64, 3, 3, 1, 1}}) {
#if defined(__AVX512F__)
    INFO(kernels::Conv2dForward(s).name());
    REQUIRE(kernels::detail::conv2d_direct_supported(s));
    CHECK(kernels::detail::conv2d_direct_weight_grad_supported(s) == (s.r == 3 && s.s == 3));
#endif
    check_against_oracle(s);
  }
}

TEST_CASE("conv2d fast path is bitwise independent of the thread count", "[conv]") {
  const int saved = omp_get_max_threads();
  // A large image (one image per chunk) and small ones (several images per chunk), batch 13.
  for (const Conv2dShape& s : {Conv2dShape{13, 3, 28, 28, 5, 3, 3, 1, 1}, Conv2dShape{13, 6, 7, 7, 4, 3, 3, 1, 1},
                               Conv2dShape{13, 4, 9, 9, 3, 3, 3, 2, 1}, Conv2dShape{13, 8, 5, 5, 6, 1, 1, 1, 0}}) {
    INFO(kernels::Conv2dForward(s).name());
    const std::vector<float> x = random_floats(input_size(s), 1), w = random_floats(weight_size(s), 2),
                             dy = random_floats(output_size(s), 3);
    omp_set_num_threads(1);
    const ConvOutputs one = run_fast(s, x, w, dy);
    for (int threads : {2, 3}) {
      INFO(fmt::format("{} threads", threads));
      omp_set_num_threads(threads);
      const ConvOutputs many = run_fast(s, x, w, dy);
      CHECK(bitwise_equal(one.y, many.y));
      CHECK(bitwise_equal(one.dx, many.dx));
      CHECK(bitwise_equal(one.dw, many.dw));
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("conv2d rejects shapes without a positive output", "[conv]") {
  std::vector<float> buffer(1024);
  const float* in = buffer.data();
  float* out = buffer.data() + 512;
  Conv2dShape too_small{1, 1, 2, 2, 1, 3, 3, 1, 0};  // 3x3 kernel on an unpadded 2x2 image
  CHECK_THROWS_WITH(kernels::conv2d_forward_cpu(too_small, in, in, out), Catch::Contains("kernel 3x3 larger"));
  CHECK_THROWS_AS(kernels::conv2d_backward_data_cpu(too_small, in, in, out), Error);
  CHECK_THROWS_AS(kernels::conv2d_backward_weight_naive(too_small, in, in, out), Error);
  // (2 - 3) / 2 truncates to 0: the output would look like 1x1 without the explicit check.
  Conv2dShape truncated{1, 1, 2, 2, 1, 3, 3, 2, 0};
  CHECK_THROWS_AS(kernels::conv2d_forward_cpu(truncated, in, in, out), Error);
  Conv2dShape no_stride{1, 1, 4, 4, 1, 3, 3, 0, 1};
  CHECK_THROWS_WITH(kernels::conv2d_forward_naive(no_stride, in, in, out), Catch::Contains("stride 0"));
  Conv2dShape empty_batch{0, 1, 4, 4, 1, 3, 3, 1, 1};
  CHECK_THROWS_WITH(kernels::conv2d_backward_weight_cpu(empty_batch, in, in, out), Catch::Contains("positive"));
}
