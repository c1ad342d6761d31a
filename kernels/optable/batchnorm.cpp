// Batch-norm cases: the reference is PyTorch's formulas written out per channel in double.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "kernels/optable/ops.h"
#include "kernels/optable/random.h"

namespace elr::kernels {

namespace {

BatchNormParams with_relu(bool relu) {
  BatchNormParams p;
  p.relu = relu;
  return p;
}

std::vector<int64_t> x_dims(const BatchNormShape& s) { return {s.n, s.c, s.hw}; }
int64_t per_channel(const BatchNormShape& s) { return int64_t(s.n) * s.hw; }
int64_t at(const BatchNormShape& s, int n, int c, int i) { return (int64_t(n) * s.c + c) * s.hw + i; }

// Inputs: x with a per-channel offset (a kernel that forgets the mean is caught), gamma, beta and
// the running statistics.
Values bn_x(const BatchNormShape& s) { return random_values(int64_t(s.n) * s.c * s.hw, 4, 0.5f, 2.5f); }
Values bn_gamma(const BatchNormShape& s) { return random_values(s.c, 5, 0.5f, 1.5f); }
Values bn_beta(const BatchNormShape& s) { return random_values(s.c, 6, -0.5f, 0.5f); }
Values bn_running_mean(const BatchNormShape& s, float lo, float hi) { return random_values(s.c, 7, lo, hi); }
Values bn_running_var(const BatchNormShape& s) { return random_values(s.c, 8, 0.5f, 1.5f); }

struct ForwardReference {
  Values y, mean, invstd, running_mean, running_var;
};

// Normalizes with the biased batch variance; the running variance takes the unbiased one.
ForwardReference train_forward(const BatchNormShape& s, const BatchNormParams& p, const Values& x,
                               const Values& gamma, const Values& beta, const Values& rm0, const Values& rv0) {
  ForwardReference r{Values(x.size()), Values(s.c), Values(s.c), Values(s.c), Values(s.c)};
  const double m = double(per_channel(s)), momentum = p.momentum;
  for (int c = 0; c < s.c; ++c) {
    double sum = 0, sq = 0;
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) sum += x[at(s, n, c, i)];
    const double mean = sum / m;
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) sq += (x[at(s, n, c, i)] - mean) * (x[at(s, n, c, i)] - mean);
    const double var = sq / m, invstd = 1.0 / std::sqrt(var + double(p.eps));
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) {
        const double v = gamma[c] * (x[at(s, n, c, i)] - mean) * invstd + beta[c];
        r.y[at(s, n, c, i)] = p.relu ? std::max(0.0, v) : v;
      }
    r.mean[c] = mean;
    r.invstd[c] = invstd;
    r.running_mean[c] = (1.0 - momentum) * rm0[c] + momentum * mean;
    r.running_var[c] = (1.0 - momentum) * rv0[c] + momentum * var * m / (m - 1);
  }
  return r;
}

// Rounded to float, as a float kernel would hand them on.
Values as_floats(const Values& v) {
  Values out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [](double d) { return double(float(d)); });
  return out;
}

}  // namespace

BatchNormCase::BatchNormCase(const BatchNormShape& s, bool relu) : shape(s), params(with_relu(relu)) {}

std::string BatchNormCase::name() const {
  return fmt::format("batchnorm(n={},c={},hw={}){}", shape.n, shape.c, shape.hw, params.relu ? "+relu" : "");
}

// ---- training forward ---------------------------------------------------------------------------------
Op BatchNormTrainForward::op() const { return Op::BatchNormTrainForward; }
std::string BatchNormTrainForward::kernel() const {
  return params.relu ? "batchnorm+relu forward" : "batchnorm forward";
}
double BatchNormTrainForward::bytes() const { return 8.0 * count(); }

std::vector<TensorSpec> BatchNormTrainForward::tensors() const {
  const int64_t m = per_channel(shape), c = shape.c;
  return {in_tensor("x", x_dims(shape)),        in_tensor("gamma", {c}),          in_tensor("beta", {c}),
          inout_tensor("running_mean", {c}, m), inout_tensor("running_var", {c}, m), out_tensor("y", x_dims(shape), m),
          out_tensor("save_mean", {c}, m),      out_tensor("save_invstd", {c}, m)};
}

std::vector<Values> BatchNormTrainForward::make_inputs() const {
  return {bn_x(shape), bn_gamma(shape), bn_beta(shape), bn_running_mean(shape, -1.0f, 1.0f), bn_running_var(shape),
          {},          {},              {}};
}

std::vector<Expected> BatchNormTrainForward::reference(const std::vector<Values>& in) const {
  const ForwardReference r = train_forward(shape, params, in[0], in[1], in[2], in[3], in[4]);
  return {{}, {}, {}, {r.running_mean, {}}, {r.running_var, {}}, {r.y, {}}, {r.mean, {}}, {r.invstd, {}}};
}

void BatchNormTrainForward::cpu(const OpArgs& a) const {
  batchnorm_forward_train_cpu<float>(shape, params, a.at<float>(0), a.at<float>(1), a.at<float>(2), a.at<float>(5),
                                     a.at<float>(6), a.at<float>(7), a.at<float>(3), a.at<float>(4));
}
void BatchNormTrainForward::cpu_double(const OpArgs& a) const {
  batchnorm_forward_train_cpu<double>(shape, params, a.at<double>(0), a.at<double>(1), a.at<double>(2),
                                      a.at<double>(5), a.at<double>(6), a.at<double>(7), a.at<double>(3),
                                      a.at<double>(4));
}

// ---- eval forward ---------------------------------------------------------------------------------------
Op BatchNormEvalForward::op() const { return Op::BatchNormEvalForward; }
std::string BatchNormEvalForward::kernel() const {
  return params.relu ? "batchnorm+relu eval forward" : "batchnorm eval forward";
}
double BatchNormEvalForward::bytes() const { return 8.0 * count(); }

std::vector<TensorSpec> BatchNormEvalForward::tensors() const {
  const int64_t c = shape.c;
  return {in_tensor("x", x_dims(shape)),  in_tensor("gamma", {c}),      in_tensor("beta", {c}),
          in_tensor("running_mean", {c}), in_tensor("running_var", {c}), out_tensor("y", x_dims(shape))};
}

// The running mean inside the range of x, so the fused ReLU has something to clip.
std::vector<Values> BatchNormEvalForward::make_inputs() const {
  return {bn_x(shape), bn_gamma(shape), bn_beta(shape), bn_running_mean(shape, 0.5f, 2.5f), bn_running_var(shape), {}};
}

std::vector<Expected> BatchNormEvalForward::reference(const std::vector<Values>& in) const {
  const Values &x = in[0], &gamma = in[1], &beta = in[2], &rm = in[3], &rv = in[4];
  Values y(x.size());
  for (int n = 0; n < shape.n; ++n)
    for (int c = 0; c < shape.c; ++c)
      for (int i = 0; i < shape.hw; ++i) {
        const int64_t j = at(shape, n, c, i);
        const double v = (x[j] - rm[c]) / std::sqrt(rv[c] + double(params.eps)) * gamma[c] + beta[c];
        y[j] = params.relu ? std::max(0.0, v) : v;
      }
  return {{}, {}, {}, {}, {}, {y, {}}};
}

void BatchNormEvalForward::cpu(const OpArgs& a) const {
  batchnorm_forward_eval_cpu<float>(shape, params, a.at<float>(0), a.at<float>(1), a.at<float>(2), a.at<float>(3),
                                    a.at<float>(4), a.at<float>(5));
}
void BatchNormEvalForward::cpu_double(const OpArgs& a) const {
  batchnorm_forward_eval_cpu<double>(shape, params, a.at<double>(0), a.at<double>(1), a.at<double>(2),
                                     a.at<double>(3), a.at<double>(4), a.at<double>(5));
}

// ---- backward -----------------------------------------------------------------------------------------
Op BatchNormBackward::op() const { return Op::BatchNormBackward; }
std::string BatchNormBackward::kernel() const {
  return params.relu ? "batchnorm+relu backward" : "batchnorm backward";
}
double BatchNormBackward::bytes() const { return 16.0 * count(); }
std::unique_ptr<OpCase> BatchNormBackward::forward() const {
  return std::make_unique<BatchNormTrainForward>(shape, params.relu);
}

std::vector<TensorSpec> BatchNormBackward::tensors() const {
  const int64_t m = per_channel(shape), c = shape.c;
  return {in_tensor("x", x_dims(shape)), in_tensor("y", x_dims(shape)), in_tensor("dy", x_dims(shape)),
          in_tensor("gamma", {c}),       in_tensor("save_mean", {c}),   in_tensor("save_invstd", {c}),
          out_tensor("dx", x_dims(shape), m), out_tensor("dgamma", {c}, m), out_tensor("dbeta", {c}, m)};
}

// y and the saved statistics from the reference forward, so this case does not depend on the
// forward kernel; dy with a mean of 0.5, so the batch-mean term of the gradient matters.
std::vector<Values> BatchNormBackward::make_inputs() const {
  const Values x = bn_x(shape), gamma = bn_gamma(shape);
  const ForwardReference f = train_forward(shape, params, x, gamma, bn_beta(shape),
                                           bn_running_mean(shape, -1.0f, 1.0f), bn_running_var(shape));
  return {x, as_floats(f.y), random_values(count(), 9, -0.5f, 1.5f), gamma, as_floats(f.mean), as_floats(f.invstd),
          {}, {}, {}};
}

std::vector<Expected> BatchNormBackward::reference(const std::vector<Values>& in) const {
  const Values &x = in[0], &y = in[1], &dy = in[2], &gamma = in[3], &mean = in[4], &invstd = in[5];
  const double m = double(per_channel(shape));
  Values dx(x.size()), dgamma(shape.c), dbeta(shape.c);
  // The gradient that reaches the normalization: dy, masked by the ReLU's output when fused.
  auto g = [&](int64_t j) { return (!params.relu || y[j] > 0) ? dy[j] : 0.0; };
  for (int c = 0; c < shape.c; ++c) {
    double db = 0, dg = 0;
    for (int n = 0; n < shape.n; ++n)
      for (int i = 0; i < shape.hw; ++i) {
        const int64_t j = at(shape, n, c, i);
        db += g(j);
        dg += g(j) * (x[j] - mean[c]) * invstd[c];
      }
    for (int n = 0; n < shape.n; ++n)
      for (int i = 0; i < shape.hw; ++i) {
        const int64_t j = at(shape, n, c, i);
        const double xhat = (x[j] - mean[c]) * invstd[c];
        dx[j] = gamma[c] * invstd[c] / m * (m * g(j) - db - xhat * dg);
      }
    dgamma[c] = dg;
    dbeta[c] = db;
  }
  return {{}, {}, {}, {}, {}, {}, {dx, {}}, {dgamma, {}}, {dbeta, {}}};
}

void BatchNormBackward::cpu(const OpArgs& a) const {
  batchnorm_backward_cpu<float>(shape, params, a.at<float>(0), a.at<float>(1), a.at<float>(2), a.at<float>(3),
                                a.at<float>(4), a.at<float>(5), a.at<float>(6), a.at<float>(7), a.at<float>(8));
}
void BatchNormBackward::cpu_double(const OpArgs& a) const {
  batchnorm_backward_cpu<double>(shape, params, a.at<double>(0), a.at<double>(1), a.at<double>(2), a.at<double>(3),
                                 a.at<double>(4), a.at<double>(5), a.at<double>(6), a.at<double>(7), a.at<double>(8));
}

std::vector<OpCasePtr> batchnorm_cases(const BatchNormShape& s, bool relu) {
  return {std::make_shared<BatchNormTrainForward>(s, relu), std::make_shared<BatchNormEvalForward>(s, relu),
          std::make_shared<BatchNormBackward>(s, relu)};
}

}  // namespace elr::kernels
