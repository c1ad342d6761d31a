// CPU kernels for ReLU, residual add, linear, pooling and cross-entropy beyond the op-case table
// (tests/test_op_table.cpp checks them against the double references and finite differences): the
// semantics the table cannot see (NaN, ties, hand-computed values, accuracy, label errors,
// overflow) and the linear layer's optional bias and db.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"
#include "kernels/optable/ops.h"

using namespace elr;
using namespace elr::kernels;

TEST_CASE("relu: zero stays zero and NaN propagates", "[ops]") {
  const std::vector<float> x = {-1.0f, 0.0f, 2.5f, NAN};
  std::vector<float> y(4);
  relu_forward_cpu<float>(4, x.data(), y.data());
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == 0.0f);
  CHECK(y[2] == 2.5f);
  CHECK(std::isnan(y[3]));  // NaN propagates, as in PyTorch
}

TEST_CASE("linear: over several row blocks, with the bias and db optional", "[ops]") {
  const LinearForward forward(LinearShape{70, 33, 41});  // 70 rows and 41 outputs span three 32-row blocks
  const LinearBackward backward(forward.shape);
  for (const OpCase* c : {static_cast<const OpCase*>(&forward), static_cast<const OpCase*>(&backward)}) {
    const std::vector<Values> in = c->make_inputs();
    const CaseCheck check = check_case(*c, run_on_host(*c, run_cpu, in), c->reference(in));
    INFO(check.message);
    CHECK(check.ok);
  }
  // Without a bias: the reference less the bias. Tensors: x, w, b -> y.
  const OpEntry without_bias = [](const OpCase& c, const OpArgs& a) {
    linear_forward_cpu<float>(as<LinearForward>(c).shape, a.at<float>(0), a.at<float>(1), nullptr, a.at<float>(3));
  };
  const std::vector<Values> in = forward.make_inputs();
  std::vector<Expected> want = forward.reference(in);
  for (size_t i = 0; i < want[3].values.size(); ++i) want[3].values[i] -= in[2][i % forward.shape.out];
  const CaseCheck check = check_case(forward, run_on_host(forward, without_bias, in), want);
  INFO(check.message);
  CHECK(check.ok);
  // Without db: the same dx and dw, bit for bit. Tensors: x, w, dy -> dx, dw, db.
  const OpEntry without_db = [](const OpCase& c, const OpArgs& a) {
    linear_backward_cpu<float>(as<LinearBackward>(c).shape, a.at<float>(0), a.at<float>(1), a.at<float>(2),
                               a.at<float>(3), a.at<float>(4), nullptr);
  };
  const std::vector<Values> bin = backward.make_inputs();
  const std::vector<Values> full = run_on_host(backward, run_cpu, bin);
  const std::vector<Values> partial = run_on_host(backward, without_db, bin);
  CHECK(partial[3] == full[3]);
  CHECK(partial[4] == full[4]);
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

TEST_CASE("global avgpool: a hand-computed mean", "[ops]") {
  const PoolShape sh{1, 2, 1, 3};
  const std::vector<float> x = {1, 2, 6, -3, 0, 0};
  std::vector<float> y(2);
  global_avgpool_forward_cpu<float>(sh, x.data(), y.data());
  CHECK(y[0] == Approx(3.0f));
  CHECK(y[1] == Approx(-1.0f));
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
