// BatchNorm CPU kernels beyond the op-case table (tests/test_op_table.cpp checks them against the
// double reference and finite differences): PyTorch semantics by hand, the error on one value per
// channel, the batch-stat identities of the backward and thread-count independence.
#include <omp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"
#include "kernels/optable/case_lists.h"
#include "kernels/optable/ops.h"
#include "tests/gradcheck.h"

using namespace elr;
using namespace elr::kernels;
using elr::testing::random_vector;

namespace {

size_t numel(const BatchNormShape& sh) { return size_t(sh.n) * sh.c * sh.hw; }
size_t flat(const BatchNormShape& sh, int i, int ch, int j) { return (size_t(i) * sh.c + ch) * sh.hw + j; }

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// Sets the OpenMP thread count for one scope.
struct ThreadCount {
  int saved = omp_get_max_threads();
  explicit ThreadCount(int n) { omp_set_num_threads(n); }
  ~ThreadCount() { omp_set_num_threads(saved); }
};

// Every output of one training forward + backward, for comparisons.
template <class T>
struct BnResult {
  std::vector<T> y, mean, invstd, running_mean, running_var, dx, dgamma, dbeta;
};

template <class T>
BnResult<T> run_bn(const BatchNormShape& sh, const BatchNormParams& p, const std::vector<double>& x,
                   const std::vector<double>& gamma, const std::vector<double>& beta, const std::vector<double>& dy) {
  const auto xt = cast<T>(x), gt = cast<T>(gamma), bt = cast<T>(beta), dyt = cast<T>(dy);
  BnResult<T> r;
  r.y.resize(numel(sh));
  r.mean.resize(sh.c);
  r.invstd.resize(sh.c);
  r.running_mean.assign(sh.c, T(0.25));
  r.running_var.assign(sh.c, T(2.0));
  batchnorm_forward_train_cpu<T>(sh, p, xt.data(), gt.data(), bt.data(), r.y.data(), r.mean.data(),
                                 r.invstd.data(), r.running_mean.data(), r.running_var.data());
  r.dx.resize(numel(sh));
  r.dgamma.resize(sh.c);
  r.dbeta.resize(sh.c);
  batchnorm_backward_cpu<T>(sh, p, xt.data(), r.y.data(), dyt.data(), gt.data(), r.mean.data(), r.invstd.data(),
                            r.dx.data(), r.dgamma.data(), r.dbeta.data());
  return r;
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

TEST_CASE("batchnorm: train forward follows PyTorch (biased var to normalize, unbiased in running_var)", "[bn]") {
  // Channel 0 holds {1, 2, 3, 4}: mean 2.5, biased var 1.25, unbiased var 5/3.
  // Channel 1 holds {10, -2, 6, 0}: mean 3.5, squared deviations sum to 91: biased 22.75, unbiased 91/3.
  const BatchNormShape sh{2, 2, 2};
  const std::vector<double> x = {1, 2, 10, -2, 3, 4, 6, 0};
  const std::vector<double> gamma = {2.0, 0.5}, beta = {0.1, -1.0};
  std::vector<double> running_mean = {1.0, -1.0}, running_var = {2.0, 0.5};
  std::vector<double> y(8), mean(2), invstd(2);
  BatchNormParams p;  // momentum 0.1, eps 1e-5
  REQUIRE(p.momentum == 0.1f);
  REQUIRE(p.eps == 1e-5f);
  batchnorm_forward_train_cpu<double>(sh, p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                      invstd.data(), running_mean.data(), running_var.data());
  const double eps = double(p.eps), m = double(p.momentum);
  CHECK(mean[0] == Approx(2.5).epsilon(1e-14));
  CHECK(mean[1] == Approx(3.5).epsilon(1e-14));
  CHECK(invstd[0] == Approx(1.0 / std::sqrt(1.25 + eps)).epsilon(1e-12));
  CHECK(invstd[1] == Approx(1.0 / std::sqrt(22.75 + eps)).epsilon(1e-12));
  // momentum is the float 0.1f (0.1 + 1.5e-9): the decimal values agree to ~1e-8.
  CHECK(running_mean[0] == Approx(0.9 * 1.0 + 0.1 * 2.5).epsilon(1e-7));
  CHECK(running_mean[1] == Approx(0.9 * -1.0 + 0.1 * 3.5).epsilon(1e-7));
  CHECK(running_var[0] == Approx(0.9 * 2.0 + 0.1 * (5.0 / 3.0)).epsilon(1e-7));
  CHECK(running_var[1] == Approx(0.9 * 0.5 + 0.1 * (91.0 / 3.0)).epsilon(1e-7));
  // Exactly PyTorch's formula with the float momentum.
  CHECK(running_mean[1] == Approx((1 - m) * -1.0 + m * 3.5).epsilon(1e-14));
  CHECK(running_var[0] == Approx((1 - m) * 2.0 + m * (5.0 / 3.0)).epsilon(1e-14));
  CHECK(running_var[1] == Approx((1 - m) * 0.5 + m * (91.0 / 3.0)).epsilon(1e-14));
  // y[0] = (1 - 2.5) / sqrt(1.25 + eps) * 2 + 0.1; with the unbiased var it would be -2.223...
  CHECK(y[0] == Approx((1 - 2.5) / std::sqrt(1.25 + eps) * 2.0 + 0.1).epsilon(1e-12));
  CHECK(y[0] != Approx((1 - 2.5) / std::sqrt(5.0 / 3.0 + eps) * 2.0 + 0.1).epsilon(1e-3));
  const double biased[2] = {1.25, 22.75}, means[2] = {2.5, 3.5};
  for (int i = 0; i < sh.n; ++i)
    for (int ch = 0; ch < sh.c; ++ch)
      for (int j = 0; j < sh.hw; ++j) {
        const size_t k = flat(sh, i, ch, j);
        INFO("element " << k);
        CHECK(y[k] == Approx((x[k] - means[ch]) / std::sqrt(biased[ch] + eps) * gamma[ch] + beta[ch]).epsilon(1e-12));
      }

  SECTION("without running-stat buffers the output is the same") {
    std::vector<double> y2(8), mean2(2), invstd2(2);
    batchnorm_forward_train_cpu<double>(sh, p, x.data(), gamma.data(), beta.data(), y2.data(), mean2.data(),
                                        invstd2.data(), nullptr, nullptr);
    CHECK(y2 == y);
  }
  SECTION("momentum 1 replaces the running stats by the batch stats") {
    BatchNormParams p1;
    p1.momentum = 1.0f;
    std::vector<double> rm = {7, 7}, rv = {7, 7};
    batchnorm_forward_train_cpu<double>(sh, p1, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                        invstd.data(), rm.data(), rv.data());
    CHECK(rm[0] == Approx(2.5));
    CHECK(rv[0] == Approx(5.0 / 3.0));
    CHECK(rv[1] == Approx(91.0 / 3.0));
  }
}

TEST_CASE("batchnorm: one value per channel in training is a clear error", "[bn]") {
  const BatchNormShape sh{1, 3, 1};
  std::vector<float> x = {1, 2, 3}, gamma(3, 1.0f), beta(3, 0.0f), y(3), mean(3), invstd(3);
  auto call = [&]() {
    batchnorm_forward_train_cpu<float>(sh, BatchNormParams{}, x.data(), gamma.data(), beta.data(), y.data(),
                                       mean.data(), invstd.data(), nullptr, nullptr);
  };
  CHECK_THROWS_AS(call(), elr::Error);
  CHECK_THROWS_WITH(call(), Catch::Contains("batchnorm") && Catch::Contains("more than one value per channel") &&
                                Catch::Contains("n*h*w = 1"));
  // Eval mode has no batch statistics and works with a single value.
  std::vector<float> rm = {0, 0, 0}, rv = {1, 1, 1};
  batchnorm_forward_eval_cpu<float>(sh, BatchNormParams{}, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(),
                                    y.data());
  CHECK(y[2] == Approx(3.0f / std::sqrt(1.0f + 1e-5f)));
}

// The normalized output does not change when a channel's x is shifted or scaled, so the loss gradient
// is orthogonal to both directions: per channel sum(dx) = 0 and sum(dx * x) = 0. Dropping the
// batch-mean or batch-variance terms of the backward breaks these identities. They are exact for
// eps = 0 (eps > 0 leaves sum(dx * (x - mean)) proportional to eps / (var + eps)).
TEST_CASE("batchnorm: backward is orthogonal to the shift and scale of each channel", "[bn]") {
  std::vector<BatchNormShape> shapes;  // the op table's, and a larger one
  for (const OpCasePtr& c : small_cases())
    if (c->op() == Op::BatchNormBackward && !as<BatchNormBackward>(*c).params.relu)
      shapes.push_back(as<BatchNormBackward>(*c).shape);
  shapes.push_back({16, 3, 49});
  uint32_t seed = 40;
  for (const BatchNormShape& sh : shapes) {
    INFO(BatchNormBackward(sh, false).name());
    const std::vector<double> x = random_vector(numel(sh), ++seed, -1.0, 3.0);
    const std::vector<double> gamma = random_vector(sh.c, ++seed, 0.5, 2.0), beta = random_vector(sh.c, ++seed);
    const std::vector<double> dy = random_vector(numel(sh), ++seed);
    BatchNormParams p;
    p.eps = 0.0f;
    const BnResult<double> r = run_bn<double>(sh, p, x, gamma, beta, dy);
    for (int ch = 0; ch < sh.c; ++ch) {
      double sum_dx = 0, sum_dx_x = 0, abs_dx = 0, abs_dx_x = 0;
      for (int i = 0; i < sh.n; ++i)
        for (int j = 0; j < sh.hw; ++j) {
          const size_t k = flat(sh, i, ch, j);
          sum_dx += r.dx[k];
          sum_dx_x += r.dx[k] * x[k];
          abs_dx += std::abs(r.dx[k]);
          abs_dx_x += std::abs(r.dx[k] * x[k]);
        }
      INFO("channel " << ch << ": sum(dx) " << sum_dx << " sum(dx*x) " << sum_dx_x);
      CHECK(abs_dx > 1e-3);  // the identities are not satisfied trivially
      CHECK(std::abs(sum_dx) <= 1e-12 * abs_dx);
      CHECK(std::abs(sum_dx_x) <= 1e-12 * abs_dx_x);
    }
  }
}

TEST_CASE("batchnorm: results are bitwise independent of the thread count", "[bn]") {
  const BatchNormShape sh{5, 13, 1537};  // 99,905 values: no power-of-two anywhere
  const std::vector<double> x = random_vector(numel(sh), 51, -2.0, 4.0);
  const std::vector<double> gamma = random_vector(sh.c, 52, 0.5, 1.5), beta = random_vector(sh.c, 53);
  const std::vector<double> dy = random_vector(numel(sh), 54);
  for (bool relu : {false, true}) {
    BatchNormParams p;
    p.relu = relu;
    BnResult<float> one, two, three;
    {
      ThreadCount t(1);
      one = run_bn<float>(sh, p, x, gamma, beta, dy);
    }
    {
      ThreadCount t(2);
      two = run_bn<float>(sh, p, x, gamma, beta, dy);
    }
    {
      ThreadCount t(3);
      three = run_bn<float>(sh, p, x, gamma, beta, dy);
    }
    for (const BnResult<float>* other : {&two, &three}) {
      CHECK(bitwise_equal(one.y, other->y));
      CHECK(bitwise_equal(one.mean, other->mean));
      CHECK(bitwise_equal(one.invstd, other->invstd));
      CHECK(bitwise_equal(one.running_mean, other->running_mean));
      CHECK(bitwise_equal(one.running_var, other->running_var));
      CHECK(bitwise_equal(one.dx, other->dx));
      CHECK(bitwise_equal(one.dgamma, other->dgamma));
      CHECK(bitwise_equal(one.dbeta, other->dbeta));
    }
  }
}
