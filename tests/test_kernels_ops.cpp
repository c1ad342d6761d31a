// CPU kernels for ReLU, residual add, linear, pooling and cross-entropy: finite-difference
// gradients over the op-case table, plus the semantics that gradients cannot see (ties, accuracy,
// label errors, overflow).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"
#include "tests/gradcheck.h"
#include "tests/op_cases.h"

using namespace elr;
using namespace elr::kernels;
using elr::testing::case_name;
using elr::testing::check_gradients;
using elr::testing::random_vector;
using Grads = std::vector<std::vector<double>>;

namespace {

size_t numel(const PoolShape& sh) { return size_t(sh.n) * sh.c * sh.h * sh.w; }
size_t pooled_numel(const PoolShape& sh) { return size_t(sh.n) * sh.c * (sh.h / 2) * (sh.w / 2); }

std::vector<int32_t> random_labels(int n, int classes, uint32_t seed) {
  std::vector<int32_t> labels(n);
  const std::vector<double> u = random_vector(n, seed, 0.0, 1.0);
  for (int i = 0; i < n; ++i) labels[i] = std::min(classes - 1, int(u[i] * classes));
  return labels;
}

}  // namespace

// Elementwise ops have no shapes of their own: they run over the pooling cases' element counts.
TEST_CASE("relu: gradient matches finite differences", "[ops]") {
  for (const PoolShape& sh : elr::testing::pool_cases()) {
    const int64_t count = int64_t(numel(sh));
    std::vector<double> x = random_vector(count, 101);
    auto forward = [&]() {
      std::vector<double> y(count);
      relu_forward_cpu<double>(count, x.data(), y.data());
      return y;
    };
    auto backward = [&](const std::vector<double>& dy) {
      const std::vector<double> y = forward();
      std::vector<double> dx(count);
      relu_backward_cpu<double>(count, y.data(), dy.data(), dx.data());
      return Grads{dx};
    };
    check_gradients(fmt::format("relu(count={})", count), {{"x", &x}}, forward, backward);
  }
  const std::vector<float> x = {-1.0f, 0.0f, 2.5f, NAN};
  std::vector<float> y(4);
  relu_forward_cpu<float>(4, x.data(), y.data());
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == 0.0f);
  CHECK(y[2] == 2.5f);
  CHECK(std::isnan(y[3]));  // NaN propagates, as in PyTorch
}

TEST_CASE("add: gradient matches finite differences, with and without ReLU", "[ops]") {
  for (bool relu : {false, true}) {
    for (const PoolShape& sh : elr::testing::pool_cases()) {
      const int64_t count = int64_t(numel(sh));
      std::vector<double> a = random_vector(count, 111), b = random_vector(count, 112);
      auto forward = [&]() {
        std::vector<double> y(count);
        add_forward_cpu<double>(count, relu, a.data(), b.data(), y.data());
        return y;
      };
      auto backward = [&](const std::vector<double>& dy) {
        const std::vector<double> y = forward();
        std::vector<double> da(count), db(count);
        add_backward_cpu<double>(count, relu, y.data(), dy.data(), da.data(), db.data());
        return Grads{da, db};
      };
      check_gradients(fmt::format("add(count={}, relu={})", count, relu), {{"a", &a}, {"b", &b}}, forward,
                      backward);
    }
  }
}

TEST_CASE("linear: gradients (x, w, b) match finite differences", "[ops]") {
  for (const LinearShape& sh : elr::testing::linear_cases()) {
    std::vector<double> x = random_vector(size_t(sh.n) * sh.in, 121);
    std::vector<double> w = random_vector(size_t(sh.out) * sh.in, 122);
    std::vector<double> b = random_vector(sh.out, 123);
    auto forward = [&]() {
      std::vector<double> y(size_t(sh.n) * sh.out);
      linear_forward_cpu<double>(sh, x.data(), w.data(), b.data(), y.data());
      return y;
    };
    auto backward = [&](const std::vector<double>& dy) {
      std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
      linear_backward_cpu<double>(sh, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
      return Grads{dx, dw, db};
    };
    check_gradients(case_name(sh), {{"x", &x}, {"w", &w}, {"b", &b}}, forward, backward);
  }
}

TEST_CASE("linear: matches direct loops in float, over several row blocks, bias and db optional", "[ops]") {
  const LinearShape sh{70, 33, 41};  // 70 rows and 41 outputs span three 32-row blocks
  const std::vector<double> xd = random_vector(size_t(sh.n) * sh.in, 131), wd = random_vector(size_t(sh.out) * sh.in, 132);
  const std::vector<double> bd = random_vector(sh.out, 133), dyd = random_vector(size_t(sh.n) * sh.out, 134);
  const std::vector<float> x(xd.begin(), xd.end()), w(wd.begin(), wd.end()), b(bd.begin(), bd.end()),
      dy(dyd.begin(), dyd.end());
  std::vector<float> y(size_t(sh.n) * sh.out), y_nobias(y.size());
  linear_forward_cpu<float>(sh, x.data(), w.data(), b.data(), y.data());
  linear_forward_cpu<float>(sh, x.data(), w.data(), nullptr, y_nobias.data());
  for (int i = 0; i < sh.n; ++i)
    for (int o = 0; o < sh.out; ++o) {
      double acc = 0;
      for (int k = 0; k < sh.in; ++k) acc += double(x[i * sh.in + k]) * double(w[o * sh.in + k]);
      REQUIRE(y_nobias[i * sh.out + o] == Approx(acc).margin(1e-5));
      REQUIRE(y[i * sh.out + o] == Approx(acc + b[o]).margin(1e-5));
    }
  std::vector<float> dx(x.size()), dw(w.size()), db(b.size()), dx2(x.size()), dw2(w.size());
  linear_backward_cpu<float>(sh, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  linear_backward_cpu<float>(sh, x.data(), w.data(), dy.data(), dx2.data(), dw2.data(), nullptr);
  CHECK(dx == dx2);
  CHECK(dw == dw2);
  for (int i = 0; i < sh.n; ++i)
    for (int k = 0; k < sh.in; ++k) {
      double acc = 0;
      for (int o = 0; o < sh.out; ++o) acc += double(dy[i * sh.out + o]) * double(w[o * sh.in + k]);
      REQUIRE(dx[i * sh.in + k] == Approx(acc).margin(1e-5));
    }
  for (int o = 0; o < sh.out; ++o) {
    double acc_b = 0;
    for (int i = 0; i < sh.n; ++i) acc_b += dy[i * sh.out + o];
    REQUIRE(db[o] == Approx(acc_b).margin(1e-5));
    for (int k = 0; k < sh.in; ++k) {
      double acc = 0;
      for (int i = 0; i < sh.n; ++i) acc += double(dy[i * sh.out + o]) * double(x[i * sh.in + k]);
      REQUIRE(dw[o * sh.in + k] == Approx(acc).margin(1e-5));
    }
  }
}

TEST_CASE("maxpool2x2: gradient matches finite differences", "[ops]") {
  for (const PoolShape& sh : elr::testing::pool_cases()) {
    std::vector<double> x = random_vector(numel(sh), 141);
    std::vector<int32_t> argmax(pooled_numel(sh));
    auto forward = [&]() {
      std::vector<double> y(pooled_numel(sh));
      maxpool2x2_forward_cpu<double>(sh, x.data(), y.data(), argmax.data());
      return y;
    };
    auto backward = [&](const std::vector<double>& dy) {
      forward();
      std::vector<double> dx(x.size(), 123.0);  // the kernel must overwrite, not accumulate
      maxpool2x2_backward_cpu<double>(sh, argmax.data(), dy.data(), dx.data());
      return Grads{dx};
    };
    check_gradients(case_name(sh), {{"x", &x}}, forward, backward);
  }
}

TEST_CASE("maxpool2x2: floor output size, first maximum wins on ties, backward scatters", "[ops]") {
  const PoolShape sh{1, 2, 3, 5};  // output 1 x 2 per plane; the last row and column are dropped
  // plane 0 rows: [7 7 1 2 9] [7 7 2 1 9] [9 9 9 9 9]: window 0 all tie on 7 -> index 0;
  //   window 1 = {1, 2, 2, 1}: the first 2 (index 3) wins over the later one (index 7).
  // plane 1 rows: [0 -1 -3 -3 0] [-1 0 -3 -3 0] [...]: window 0 ties 0 at 15 and 21 -> 15;
  //   window 1 all -3 -> first, index 17.
  const std::vector<float> x = {7, 7, 1, 2, 9, 7, 7, 2, 1, 9, 9, 9, 9, 9, 9,
                                0, -1, -3, -3, 0, -1, 0, -3, -3, 0, 5, 5, 5, 5, 5};
  std::vector<float> y(4);
  std::vector<int32_t> argmax(4);
  maxpool2x2_forward_cpu<float>(sh, x.data(), y.data(), argmax.data());
  CHECK(y == std::vector<float>{7, 2, 0, -3});
  CHECK(argmax == std::vector<int32_t>{0, 3, 15, 17});
  const std::vector<float> dy = {1, 2, 3, 4};
  std::vector<float> dx(x.size(), -5.0f);
  maxpool2x2_backward_cpu<float>(sh, argmax.data(), dy.data(), dx.data());
  std::vector<float> expect(x.size(), 0.0f);
  expect[0] = 1;
  expect[3] = 2;
  expect[15] = 3;
  expect[17] = 4;
  CHECK(dx == expect);
}

TEST_CASE("global avgpool: gradient matches finite differences", "[ops]") {
  for (const PoolShape& sh : elr::testing::pool_cases()) {
    std::vector<double> x = random_vector(numel(sh), 151);
    const size_t planes = size_t(sh.n) * sh.c;
    auto forward = [&]() {
      std::vector<double> y(planes);
      global_avgpool_forward_cpu<double>(sh, x.data(), y.data());
      return y;
    };
    auto backward = [&](const std::vector<double>& dy) {
      std::vector<double> dx(x.size());
      global_avgpool_backward_cpu<double>(sh, dy.data(), dx.data());
      return Grads{dx};
    };
    check_gradients(case_name(sh), {{"x", &x}}, forward, backward);
  }
  const PoolShape sh{1, 2, 1, 3};
  const std::vector<float> x = {1, 2, 6, -3, 0, 0};
  std::vector<float> y(2);
  global_avgpool_forward_cpu<float>(sh, x.data(), y.data());
  CHECK(y[0] == Approx(3.0f));
  CHECK(y[1] == Approx(-1.0f));
}

TEST_CASE("cross-entropy: gradient w.r.t. the logits matches finite differences", "[ops]") {
  uint32_t seed = 160;
  for (const CrossEntropyShape& sh : elr::testing::cross_entropy_cases()) {
    std::vector<double> logits = random_vector(size_t(sh.n) * sh.classes, ++seed, -3.0, 3.0);
    const std::vector<int32_t> labels = random_labels(sh.n, sh.classes, ++seed);
    std::vector<double> probs(logits.size());
    auto forward = [&]() {
      double loss = 0;
      int64_t correct = 0;
      cross_entropy_forward_cpu<double>(sh, logits.data(), labels.data(), &loss, probs.data(), &correct);
      return std::vector<double>{loss};
    };
    auto backward = [&](const std::vector<double>& dloss) {
      forward();
      std::vector<double> dlogits(logits.size());
      cross_entropy_backward_cpu<double>(sh, probs.data(), labels.data(), dloss[0], dlogits.data());
      return Grads{dlogits};
    };
    check_gradients(case_name(sh), {{"logits", &logits}}, forward, backward);
  }
}

TEST_CASE("cross-entropy: loss by hand, probabilities, accuracy count, no overflow", "[ops]") {
  const CrossEntropyShape sh{4, 3};
  // Row 0: argmax 1 = label. Row 1: tie between 0 and 2, the first (0) counts; label 2 -> wrong.
  // Row 2: argmax 2 = label. Row 3: huge logits, argmax 0, label 1 -> wrong.
  const std::vector<float> logits = {0, 1, 0, 5, -1, 5, -2, 0, 3, 1000, 999, -1000};
  const std::vector<int32_t> labels = {1, 2, 2, 1};
  std::vector<float> probs(12);
  float loss = -1;
  int64_t correct = -1;
  cross_entropy_forward_cpu<float>(sh, logits.data(), labels.data(), &loss, probs.data(), &correct);
  CHECK(correct == 2);
  const double e = std::exp(1.0);
  const double row_loss[4] = {
      std::log(2 + e) - 1.0,                                                          // log(e^0 + e^1 + e^0) - 1
      5.0 + std::log(2 + std::exp(-6.0)) - 5.0,                                       // label logit 5
      3.0 + std::log(std::exp(-5.0) + std::exp(-3.0) + 1.0) - 3.0,                    // label logit 3
      1000.0 + std::log(1 + std::exp(-1.0)) - 999.0,                                  // needs max subtraction
  };
  CHECK(std::isfinite(loss));
  CHECK(loss == Approx((row_loss[0] + row_loss[1] + row_loss[2] + row_loss[3]) / 4).epsilon(1e-6));
  CHECK(probs[1] == Approx(e / (2 + e)).epsilon(1e-6));
  CHECK(probs[9] == Approx(1 / (1 + std::exp(-1.0))).epsilon(1e-6));
  CHECK(probs[11] == 0.0f);
  for (int i = 0; i < sh.n; ++i) CHECK(probs[3 * i] + probs[3 * i + 1] + probs[3 * i + 2] == Approx(1.0f));
  std::vector<float> dlogits(12);
  cross_entropy_backward_cpu<float>(sh, probs.data(), labels.data(), 2.0f, dlogits.data());
  CHECK(dlogits[1] == Approx(2.0 * (e / (2 + e) - 1) / 4).epsilon(1e-6));
  CHECK(dlogits[0] == Approx(2.0 * (1 / (2 + e)) / 4).epsilon(1e-6));
}

TEST_CASE("cross-entropy: a label outside 0..classes-1 is an error naming the row and label", "[ops]") {
  const CrossEntropyShape sh{3, 4};
  const std::vector<float> logits(12, 0.0f);
  std::vector<float> probs(12), dlogits(12);
  float loss = 0;
  int64_t correct = 0;
  for (int32_t bad : {4, -1}) {
    const std::vector<int32_t> labels = {0, 3, bad};
    CHECK_THROWS_AS(cross_entropy_forward_cpu<float>(sh, logits.data(), labels.data(), &loss, probs.data(), &correct),
                    elr::Error);
    CHECK_THROWS_WITH(
        cross_entropy_forward_cpu<float>(sh, logits.data(), labels.data(), &loss, probs.data(), &correct),
        Catch::Contains("cross_entropy") && Catch::Contains("row 2") &&
            Catch::Contains(fmt::format("label {}", bad)) && Catch::Contains("[0, 4)"));
    CHECK_THROWS_WITH(cross_entropy_backward_cpu<float>(sh, probs.data(), labels.data(), 1.0f, dlogits.data()),
                      Catch::Contains("row 2"));
  }
}
