// ReLU and residual-add cases. They have no shape of their own: the lists run them over element
// counts (of the pooling shapes, and odd counts around the CUDA block size).
#include <fmt/format.h>

#include <algorithm>

#include "kernels/optable/ops.h"
#include "kernels/optable/random.h"

namespace elr::kernels {

namespace {

Values relu_of(const Values& v) {
  Values out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [](double x) { return std::max(0.0, x); });
  return out;
}

// dy where the forward output y passed it (y > 0), else 0.
Values masked(const Values& dy, const Values& y) {
  Values out(dy.size());
  for (size_t i = 0; i < dy.size(); ++i) out[i] = y[i] > 0 ? dy[i] : 0.0;
  return out;
}

Values add_of(const Values& a, const Values& b, bool relu) {
  Values y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return relu ? relu_of(y) : y;
}

// As a float kernel computes it: the sum rounded to float, then the ReLU.
Values float_add_of(const Values& a, const Values& b, bool relu) {
  Values y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = double(float(a[i]) + float(b[i]));
  return relu ? relu_of(y) : y;
}

// A ReLU's output: a handful of values can all be negative, and then it is legitimately all zero.
TensorSpec relu_output(const char* name, int64_t count, bool relu = true) {
  TensorSpec s = out_tensor(name, {count});
  s.may_be_zero = relu && count < 16;
  return s;
}

}  // namespace

std::string ReluCase::name() const { return fmt::format("relu(count={})", count); }

// ---- relu ---------------------------------------------------------------------------------------------
Op ReluForward::op() const { return Op::ReluForward; }
std::string ReluForward::kernel() const { return "relu forward"; }
double ReluForward::bytes() const { return 8.0 * count; }
std::vector<TensorSpec> ReluForward::tensors() const { return {in_tensor("x", {count}), relu_output("y", count)}; }
std::vector<Values> ReluForward::make_inputs() const { return {random_values(count, 20), {}}; }
std::vector<Expected> ReluForward::reference(const std::vector<Values>& in) const { return {{}, {relu_of(in[0]), {}}}; }
void ReluForward::cpu(const OpArgs& a) const { relu_forward_cpu<float>(count, a.at<float>(0), a.at<float>(1)); }
void ReluForward::cpu_double(const OpArgs& a) const {
  relu_forward_cpu<double>(count, a.at<double>(0), a.at<double>(1));
}

Op ReluBackward::op() const { return Op::ReluBackward; }
std::string ReluBackward::kernel() const { return "relu backward"; }
double ReluBackward::bytes() const { return 12.0 * count; }
std::unique_ptr<OpCase> ReluBackward::forward() const { return std::make_unique<ReluForward>(count); }
std::vector<TensorSpec> ReluBackward::tensors() const {
  return {in_tensor("y", {count}), in_tensor("dy", {count}), relu_output("dx", count)};
}
std::vector<Values> ReluBackward::make_inputs() const {
  return {relu_of(random_values(count, 20)), random_values(count, 21), {}};
}
std::vector<Expected> ReluBackward::reference(const std::vector<Values>& in) const {
  return {{}, {}, {masked(in[1], in[0]), {}}};
}
void ReluBackward::cpu(const OpArgs& a) const {
  relu_backward_cpu<float>(count, a.at<float>(0), a.at<float>(1), a.at<float>(2));
}
void ReluBackward::cpu_double(const OpArgs& a) const {
  relu_backward_cpu<double>(count, a.at<double>(0), a.at<double>(1), a.at<double>(2));
}

// ---- residual add -----------------------------------------------------------------------------------
std::string AddCase::name() const { return fmt::format("add(count={}){}", count, relu ? "+relu" : ""); }

Op AddForward::op() const { return Op::AddForward; }
std::string AddForward::kernel() const { return relu ? "add+relu forward" : "add forward"; }
double AddForward::bytes() const { return 12.0 * count; }
std::vector<TensorSpec> AddForward::tensors() const {
  return {in_tensor("a", {count}), in_tensor("b", {count}), relu_output("y", count, relu)};
}
std::vector<Values> AddForward::make_inputs() const { return {random_values(count, 22), random_values(count, 23), {}}; }
std::vector<Expected> AddForward::reference(const std::vector<Values>& in) const {
  return {{}, {}, {add_of(in[0], in[1], relu), {}}};
}
void AddForward::cpu(const OpArgs& a) const {
  add_forward_cpu<float>(count, relu, a.at<float>(0), a.at<float>(1), a.at<float>(2));
}
void AddForward::cpu_double(const OpArgs& a) const {
  add_forward_cpu<double>(count, relu, a.at<double>(0), a.at<double>(1), a.at<double>(2));
}

Op AddBackward::op() const { return Op::AddBackward; }
std::string AddBackward::kernel() const { return relu ? "add+relu backward" : "add backward"; }
double AddBackward::bytes() const { return 16.0 * count; }
std::unique_ptr<OpCase> AddBackward::forward() const { return std::make_unique<AddForward>(count, relu); }
std::vector<TensorSpec> AddBackward::tensors() const {
  return {in_tensor("y", {count}), in_tensor("dy", {count}), relu_output("da", count, relu),
          relu_output("db", count, relu)};
}
std::vector<Values> AddBackward::make_inputs() const {
  return {float_add_of(random_values(count, 22), random_values(count, 23), relu), random_values(count, 24), {}, {}};
}
std::vector<Expected> AddBackward::reference(const std::vector<Values>& in) const {
  const Values d = relu ? masked(in[1], in[0]) : in[1];
  return {{}, {}, {d, {}}, {d, {}}};
}
void AddBackward::cpu(const OpArgs& a) const {
  add_backward_cpu<float>(count, relu, a.at<float>(0), a.at<float>(1), a.at<float>(2), a.at<float>(3));
}
void AddBackward::cpu_double(const OpArgs& a) const {
  add_backward_cpu<double>(count, relu, a.at<double>(0), a.at<double>(1), a.at<double>(2), a.at<double>(3));
}

std::vector<OpCasePtr> relu_cases(int64_t count) {
  return {std::make_shared<ReluForward>(count), std::make_shared<ReluBackward>(count)};
}

std::vector<OpCasePtr> add_cases(int64_t count, bool relu) {
  return {std::make_shared<AddForward>(count, relu), std::make_shared<AddBackward>(count, relu)};
}

}  // namespace elr::kernels
