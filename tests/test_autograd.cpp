// The tape (accumulation, no-grad, missing backward), shape errors of the ops, and the
// scale-invariance identity of conv -> BN through the whole autograd path.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

using namespace elr;

namespace {
Tensor random_tensor(const Shape& shape, uint32_t seed, bool requires_grad = false) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = dist(gen);
  Tensor t = Tensor::from_vector(shape, v);
  t.set_requires_grad(requires_grad);
  return t;
}

// A scalar loss sum_i r_i * y_i with fixed random r, through the tape (linear in y).
Tensor weighted_sum(const Tensor& y, uint32_t seed) {
  Tensor flat = ops::flatten(y.ndim() == 1 ? ops::reshape(y, {1, y.numel()}) : y);
  Tensor r = random_tensor({1, flat.dim(1)}, seed);
  Tensor per_row = ops::linear(flat, r, Tensor());  // [n, 1]
  Tensor total = ops::linear(ops::reshape(per_row, {1, per_row.dim(0)}), Tensor::full({1, per_row.dim(0)}, 1.0f), Tensor());
  return ops::reshape(total, {1});
}
}  // namespace

TEST_CASE("autograd: gradients accumulate when a tensor is used twice", "[autograd]") {
  autograd::tape().clear();
  Tensor x = random_tensor({2, 3}, 1, true);
  Tensor y = ops::add(x, x);
  Tensor loss = weighted_sum(y, 2);
  autograd::tape().backward(loss);
  REQUIRE(x.has_grad());
  // d/dx sum_{n,j} r_j * 2 x_nj = 2 r_j: compare with the same r drawn again.
  Tensor r = random_tensor({1, 3}, 2);
  for (int i = 0; i < 6; ++i) CHECK(x.grad().data()[i] == Approx(2.0f * r.data()[i % 3]));
  CHECK(autograd::tape().size() == 0);
}

TEST_CASE("autograd: nothing is recorded under NoGradGuard or without inputs that require grad", "[autograd]") {
  autograd::tape().clear();
  Tensor x = random_tensor({2, 3}, 1, true);
  {
    autograd::NoGradGuard guard;
    Tensor y = ops::relu(x);
    CHECK_FALSE(y.requires_grad());
  }
  CHECK(autograd::tape().size() == 0);
  Tensor c = random_tensor({2, 3}, 3, false);
  ops::relu(c);
  CHECK(autograd::tape().size() == 0);
  ops::relu(x);
  CHECK(autograd::tape().size() == 1);
  autograd::tape().clear();
}

TEST_CASE("autograd: a gradient reaching an op without backward names the op", "[autograd]") {
  autograd::tape().clear();
  Tensor x = random_tensor({2, 3, 2, 2}, 4, true);
  Tensor gamma = Tensor::full({3}, 1.0f), beta = Tensor::zeros({3});
  Tensor rm = Tensor::zeros({3}), rv = Tensor::full({3}, 1.0f);
  ops::BatchNormOptions opt;
  opt.training = false;
  Tensor y = ops::batch_norm(x, gamma, beta, rm, rv, opt);
  Tensor loss = weighted_sum(y, 5);
  CHECK_THROWS_WITH(autograd::tape().backward(loss), Catch::Contains("op 'batch_norm(eval)' has no backward"));
  CHECK(autograd::tape().size() == 0);
}

TEST_CASE("ops: shape errors name the op and both shapes", "[autograd][shapes]") {
  autograd::NoGradGuard guard;
  Tensor x = Tensor::zeros({2, 3, 5, 5});
  CHECK_THROWS_WITH(ops::conv2d(x, Tensor::zeros({4, 2, 3, 3}), 1, 1),
                    Catch::Contains("conv2d") && Catch::Contains("[2, 3, 5, 5]") && Catch::Contains("[4, 2, 3, 3]"));
  CHECK_THROWS_WITH(ops::linear(Tensor::zeros({2, 7}), Tensor::zeros({4, 6}), Tensor()),
                    Catch::Contains("linear") && Catch::Contains("[2, 7]") && Catch::Contains("[4, 6]"));
  Tensor g4 = Tensor::full({4}, 1.0f), b4 = Tensor::zeros({4}), m4 = Tensor::zeros({4}), v4 = Tensor::full({4}, 1.0f);
  CHECK_THROWS_WITH(ops::batch_norm(x, g4, b4, m4, v4, {}),
                    Catch::Contains("batch_norm") && Catch::Contains("[2, 3, 5, 5]") && Catch::Contains("[4]"));
  CHECK_THROWS_WITH(ops::add(x, Tensor::zeros({2, 3, 5, 4})),
                    Catch::Contains("add") && Catch::Contains("[2, 3, 5, 5]") && Catch::Contains("[2, 3, 5, 4]"));
  CHECK_THROWS_WITH(ops::conv2d(Tensor::zeros({1, 1, 2, 2}), Tensor::zeros({1, 1, 3, 3}), 1, 0),
                    Catch::Contains("empty output"));
}

TEST_CASE("ops: batch norm in training refuses a single value per channel", "[autograd][bn]") {
  Tensor x = Tensor::zeros({1, 2, 1, 1});
  Tensor g = Tensor::full({2}, 1.0f), b = Tensor::zeros({2}), m = Tensor::zeros({2}), v = Tensor::full({2}, 1.0f);
  CHECK_THROWS_WITH(ops::batch_norm(x, g, b, m, v, {}), Catch::Contains("batchnorm"));
}

TEST_CASE("scale invariance: conv -> BN (train) gives <g, W> ~ 0 per output channel", "[autograd][scale-invariance]") {
  for (bool relu : {false, true}) {
    autograd::tape().clear();
    Tensor x = random_tensor({4, 3, 6, 6}, 11);
    Tensor w = random_tensor({5, 3, 3, 3}, 12, true);
    Tensor gamma = random_tensor({5}, 13, true), beta = random_tensor({5}, 14, true);
    Tensor rm = Tensor::zeros({5}), rv = Tensor::full({5}, 1.0f);
    ops::BatchNormOptions opt;
    opt.relu = relu;
    Tensor y = ops::batch_norm(ops::conv2d(x, w, 1, 1), gamma, beta, rm, rv, opt);
    Tensor loss = weighted_sum(y, 15);
    autograd::tape().backward(loss);
    const float* g = w.grad().data();
    const float* wd = w.data();
    for (int k = 0; k < 5; ++k) {
      double gw = 0, g2 = 0, w2 = 0;
      for (int i = 0; i < 27; ++i) {
        gw += static_cast<double>(g[k * 27 + i]) * wd[k * 27 + i];
        g2 += static_cast<double>(g[k * 27 + i]) * g[k * 27 + i];
        w2 += static_cast<double>(wd[k * 27 + i]) * wd[k * 27 + i];
      }
      INFO("relu " << relu << " channel " << k << " cos " << gw / std::sqrt(g2 * w2));
      REQUIRE(g2 > 1e-12);
      CHECK(std::abs(gw) / std::sqrt(g2 * w2) < 1e-4);
    }
  }
}
