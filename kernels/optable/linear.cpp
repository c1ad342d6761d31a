// Linear-layer cases: y = x w^T + b and its three gradients as double loops.
#include <fmt/format.h>

#include "kernels/optable/ops.h"
#include "kernels/optable/random.h"

namespace elr::kernels {

namespace {
int64_t x_count(const LinearShape& s) { return int64_t(s.n) * s.in; }
int64_t w_count(const LinearShape& s) { return int64_t(s.out) * s.in; }
int64_t y_count(const LinearShape& s) { return int64_t(s.n) * s.out; }
}  // namespace

std::string LinearCase::name() const { return fmt::format("linear(n={},in={},out={})", shape.n, shape.in, shape.out); }

// ---- forward -----------------------------------------------------------------------------------------
Op LinearForward::op() const { return Op::LinearForward; }
std::string LinearForward::kernel() const { return "linear forward"; }
double LinearForward::flop() const { return 2.0 * double(shape.n) * shape.in * shape.out; }
double LinearForward::bytes() const {
  return 4.0 * double(x_count(shape) + w_count(shape) + shape.out + y_count(shape));
}

std::vector<TensorSpec> LinearForward::tensors() const {
  const LinearShape& s = shape;
  return {in_tensor("x", {s.n, s.in}), in_tensor("w", {s.out, s.in}), in_tensor("b", {s.out}),
          out_tensor("y", {s.n, s.out}, s.in)};
}

std::vector<Values> LinearForward::make_inputs() const {
  return {random_values(x_count(shape), 16), random_values(w_count(shape), 17), random_values(shape.out, 18), {}};
}

std::vector<Expected> LinearForward::reference(const std::vector<Values>& in) const {
  const LinearShape& s = shape;
  const Values &x = in[0], &w = in[1], &b = in[2];
  Values y(y_count(s));
  for (int i = 0; i < s.n; ++i)
    for (int o = 0; o < s.out; ++o) {
      double acc = b[o];
      for (int j = 0; j < s.in; ++j) acc += x[int64_t(i) * s.in + j] * w[int64_t(o) * s.in + j];
      y[int64_t(i) * s.out + o] = acc;
    }
  return {{}, {}, {}, {y, {}}};
}

void LinearForward::cpu(const OpArgs& a) const {
  linear_forward_cpu<float>(shape, a.at<float>(0), a.at<float>(1), a.at<float>(2), a.at<float>(3));
}
void LinearForward::cpu_double(const OpArgs& a) const {
  linear_forward_cpu<double>(shape, a.at<double>(0), a.at<double>(1), a.at<double>(2), a.at<double>(3));
}

// ---- backward ----------------------------------------------------------------------------------------
Op LinearBackward::op() const { return Op::LinearBackward; }
std::string LinearBackward::kernel() const { return "linear backward"; }
double LinearBackward::flop() const { return 4.0 * double(shape.n) * shape.in * shape.out; }
double LinearBackward::bytes() const {
  return 4.0 * double(2 * x_count(shape) + 2 * w_count(shape) + y_count(shape) + shape.out);
}
std::unique_ptr<OpCase> LinearBackward::forward() const { return std::make_unique<LinearForward>(shape); }

std::vector<TensorSpec> LinearBackward::tensors() const {
  const LinearShape& s = shape;
  return {in_tensor("x", {s.n, s.in}),          in_tensor("w", {s.out, s.in}),        in_tensor("dy", {s.n, s.out}),
          out_tensor("dx", {s.n, s.in}, s.out), out_tensor("dw", {s.out, s.in}, s.n), out_tensor("db", {s.out}, s.n)};
}

std::vector<Values> LinearBackward::make_inputs() const {
  return {random_values(x_count(shape), 16), random_values(w_count(shape), 17), random_values(y_count(shape), 19),
          {}, {}, {}};
}

std::vector<Expected> LinearBackward::reference(const std::vector<Values>& in) const {
  const LinearShape& s = shape;
  const Values &x = in[0], &w = in[1], &dy = in[2];
  Values dx(x_count(s), 0.0), dw(w_count(s), 0.0), db(s.out, 0.0);
  for (int i = 0; i < s.n; ++i)
    for (int o = 0; o < s.out; ++o) {
      const double g = dy[int64_t(i) * s.out + o];
      db[o] += g;
      for (int j = 0; j < s.in; ++j) {
        dx[int64_t(i) * s.in + j] += g * w[int64_t(o) * s.in + j];
        dw[int64_t(o) * s.in + j] += g * x[int64_t(i) * s.in + j];
      }
    }
  return {{}, {}, {}, {dx, {}}, {dw, {}}, {db, {}}};
}

void LinearBackward::cpu(const OpArgs& a) const {
  linear_backward_cpu<float>(shape, a.at<float>(0), a.at<float>(1), a.at<float>(2), a.at<float>(3), a.at<float>(4),
                             a.at<float>(5));
}
void LinearBackward::cpu_double(const OpArgs& a) const {
  linear_backward_cpu<double>(shape, a.at<double>(0), a.at<double>(1), a.at<double>(2), a.at<double>(3),
                              a.at<double>(4), a.at<double>(5));
}

std::vector<OpCasePtr> linear_cases(const LinearShape& s) {
  return {std::make_shared<LinearForward>(s), std::make_shared<LinearBackward>(s)};
}

}  // namespace elr::kernels
