// Pooling cases: 2x2 max-pool (floor output size, the first maximum of each window wins, as in
// PyTorch), the ImageNet stem's 3x3 stride-2 max-pool with padding 1 and the global average pool.
#include <fmt/format.h>

#include <cmath>

#include "kernels/optable/ops.h"
#include "kernels/optable/random.h"

namespace elr::kernels {

namespace {

int64_t pooled_count(const PoolShape& s) { return int64_t(s.n) * s.c * (s.h / 2) * (s.w / 2); }
int64_t planes(const PoolShape& s) { return int64_t(s.n) * s.c; }
std::vector<int64_t> x_dims(const PoolShape& s) { return {s.n, s.c, s.h, s.w}; }
std::vector<int64_t> pooled_dims(const PoolShape& s) { return {s.n, s.c, s.h / 2, s.w / 2}; }

// Values on a grid of 1/8, so windows with tied maxima occur.
Values maxpool_x(const PoolShape& s) {
  Values x = random_values(int64_t(s.n) * s.c * s.h * s.w, 10);
  for (double& v : x) v = std::round(v * 8) / 8;
  return x;
}

struct MaxPoolReference {
  Values y, argmax;
};
MaxPoolReference maxpool_reference(const PoolShape& s, const Values& x) {
  const int oh = s.h / 2, ow = s.w / 2;
  MaxPoolReference r{Values(pooled_count(s)), Values(pooled_count(s))};
  for (int64_t nc = 0; nc < planes(s); ++nc)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        int64_t best = -1;
        for (int di = 0; di < 2; ++di)
          for (int dj = 0; dj < 2; ++dj) {
            const int64_t idx = (nc * s.h + 2 * i + di) * s.w + 2 * j + dj;
            if (best < 0 || x[idx] > x[best]) best = idx;
          }
        const int64_t o = (nc * oh + i) * ow + j;
        r.y[o] = x[best];
        r.argmax[o] = double(best);
      }
  return r;
}

// 3x3 stride-2 max-pool, padding 1: output (i, j) looks at rows 2i-1 .. 2i+1 and columns 2j-1 .. 2j+1
// that lie in the image.
std::vector<int64_t> stem_pooled_dims(const PoolShape& s) {
  return {s.n, s.c, (s.h + 1) / 2, (s.w + 1) / 2};
}
int64_t stem_pooled_count(const PoolShape& s) { return planes(s) * ((s.h + 1) / 2) * ((s.w + 1) / 2); }

MaxPoolReference stem_maxpool_reference(const PoolShape& s, const Values& x) {
  const int oh = (s.h + 1) / 2, ow = (s.w + 1) / 2;
  MaxPoolReference r{Values(stem_pooled_count(s)), Values(stem_pooled_count(s))};
  for (int64_t nc = 0; nc < planes(s); ++nc)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        int64_t best = -1;
        for (int row = 2 * i - 1; row <= 2 * i + 1; ++row)
          for (int col = 2 * j - 1; col <= 2 * j + 1; ++col) {
            if (row < 0 || row >= s.h || col < 0 || col >= s.w) continue;
            const int64_t idx = (nc * s.h + row) * s.w + col;
            if (best < 0 || x[idx] > x[best]) best = idx;
          }
        const int64_t o = (nc * oh + i) * ow + j;
        r.y[o] = x[best];
        r.argmax[o] = double(best);
      }
  return r;
}

// No window fits (h or w below 2): the pooled output is empty and dx all zero.
TensorSpec pooled_gradient(const PoolShape& s) {
  TensorSpec dx = out_tensor("dx", x_dims(s));
  dx.may_be_zero = pooled_count(s) == 0;
  return dx;
}

}  // namespace

std::string PoolCase::name() const {
  return fmt::format("pool(n={},c={},h={},w={})", shape.n, shape.c, shape.h, shape.w);
}

// ---- max-pool -----------------------------------------------------------------------------------------
Op MaxPoolForward::op() const { return Op::MaxPoolForward; }
std::string MaxPoolForward::kernel() const { return "maxpool2x2 forward"; }
double MaxPoolForward::bytes() const { return 4.0 * input_count() + 8.0 * pooled_count(shape); }

std::vector<TensorSpec> MaxPoolForward::tensors() const {
  TensorSpec y = out_tensor("y", pooled_dims(shape));
  y.may_be_zero = pooled_count(shape) == 0;
  return {in_tensor("x", x_dims(shape)), y, out_tensor("argmax", pooled_dims(shape), 1, DType::I32)};
}

std::vector<Values> MaxPoolForward::make_inputs() const { return {maxpool_x(shape), {}, {}}; }

std::vector<Expected> MaxPoolForward::reference(const std::vector<Values>& in) const {
  MaxPoolReference r = maxpool_reference(shape, in[0]);
  return {{}, {std::move(r.y), {}}, {std::move(r.argmax), {}}};
}

void MaxPoolForward::cpu(const OpArgs& a) const {
  maxpool2x2_forward_cpu<float>(shape, a.at<float>(0), a.at<float>(1), a.at<int32_t>(2));
}
void MaxPoolForward::cpu_double(const OpArgs& a) const {
  maxpool2x2_forward_cpu<double>(shape, a.at<double>(0), a.at<double>(1), a.at<int32_t>(2));
}

Op MaxPoolBackward::op() const { return Op::MaxPoolBackward; }
std::string MaxPoolBackward::kernel() const { return "maxpool2x2 backward"; }
double MaxPoolBackward::bytes() const { return 8.0 * pooled_count(shape) + 4.0 * input_count(); }
std::unique_ptr<OpCase> MaxPoolBackward::forward() const { return std::make_unique<MaxPoolForward>(shape); }

std::vector<TensorSpec> MaxPoolBackward::tensors() const {
  return {in_tensor("argmax", pooled_dims(shape), DType::I32), in_tensor("dy", pooled_dims(shape)),
          pooled_gradient(shape)};
}

// The arg-max of the reference forward, so this case does not depend on the forward kernel.
std::vector<Values> MaxPoolBackward::make_inputs() const {
  return {maxpool_reference(shape, maxpool_x(shape)).argmax, random_values(pooled_count(shape), 11), {}};
}

std::vector<Expected> MaxPoolBackward::reference(const std::vector<Values>& in) const {
  Values dx(input_count(), 0.0);
  for (size_t i = 0; i < in[0].size(); ++i) dx[int64_t(in[0][i])] += in[1][i];
  return {{}, {}, {dx, {}}};
}

void MaxPoolBackward::cpu(const OpArgs& a) const {
  maxpool2x2_backward_cpu<float>(shape, a.at<int32_t>(0), a.at<float>(1), a.at<float>(2));
}
void MaxPoolBackward::cpu_double(const OpArgs& a) const {
  maxpool2x2_backward_cpu<double>(shape, a.at<int32_t>(0), a.at<double>(1), a.at<double>(2));
}

// ---- 3x3 stride-2 max-pool ------------------------------------------------------------------------------
Op MaxPool3x3s2Forward::op() const { return Op::MaxPool3x3s2Forward; }
std::string MaxPool3x3s2Forward::kernel() const { return "maxpool3x3s2 forward"; }
double MaxPool3x3s2Forward::bytes() const { return 4.0 * input_count() + 8.0 * stem_pooled_count(shape); }

std::vector<TensorSpec> MaxPool3x3s2Forward::tensors() const {
  return {in_tensor("x", x_dims(shape)), out_tensor("y", stem_pooled_dims(shape)),
          out_tensor("argmax", stem_pooled_dims(shape), 1, DType::I32)};
}

std::vector<Values> MaxPool3x3s2Forward::make_inputs() const { return {maxpool_x(shape), {}, {}}; }

std::vector<Expected> MaxPool3x3s2Forward::reference(const std::vector<Values>& in) const {
  MaxPoolReference r = stem_maxpool_reference(shape, in[0]);
  return {{}, {std::move(r.y), {}}, {std::move(r.argmax), {}}};
}

void MaxPool3x3s2Forward::cpu(const OpArgs& a) const {
  maxpool3x3s2_forward_cpu<float>(shape, a.at<float>(0), a.at<float>(1), a.at<int32_t>(2));
}
void MaxPool3x3s2Forward::cpu_double(const OpArgs& a) const {
  maxpool3x3s2_forward_cpu<double>(shape, a.at<double>(0), a.at<double>(1), a.at<int32_t>(2));
}

Op MaxPool3x3s2Backward::op() const { return Op::MaxPool3x3s2Backward; }
std::string MaxPool3x3s2Backward::kernel() const { return "maxpool3x3s2 backward"; }
double MaxPool3x3s2Backward::bytes() const { return 8.0 * stem_pooled_count(shape) + 4.0 * input_count(); }
std::unique_ptr<OpCase> MaxPool3x3s2Backward::forward() const { return std::make_unique<MaxPool3x3s2Forward>(shape); }

// dx adds the gradients of up to four outputs (2 x 2 overlapping windows).
std::vector<TensorSpec> MaxPool3x3s2Backward::tensors() const {
  return {in_tensor("argmax", stem_pooled_dims(shape), DType::I32), in_tensor("dy", stem_pooled_dims(shape)),
          out_tensor("dx", x_dims(shape), 4)};
}

// The arg-max of the reference forward, so this case does not depend on the forward kernel.
std::vector<Values> MaxPool3x3s2Backward::make_inputs() const {
  return {stem_maxpool_reference(shape, maxpool_x(shape)).argmax, random_values(stem_pooled_count(shape), 14), {}};
}

std::vector<Expected> MaxPool3x3s2Backward::reference(const std::vector<Values>& in) const {
  Values dx(input_count(), 0.0);
  for (size_t i = 0; i < in[0].size(); ++i) dx[int64_t(in[0][i])] += in[1][i];
  return {{}, {}, {dx, {}}};
}

void MaxPool3x3s2Backward::cpu(const OpArgs& a) const {
  maxpool3x3s2_backward_cpu<float>(shape, a.at<int32_t>(0), a.at<float>(1), a.at<float>(2));
}
void MaxPool3x3s2Backward::cpu_double(const OpArgs& a) const {
  maxpool3x3s2_backward_cpu<double>(shape, a.at<int32_t>(0), a.at<double>(1), a.at<double>(2));
}

// ---- global average pool ------------------------------------------------------------------------------
Op AvgPoolForward::op() const { return Op::AvgPoolForward; }
std::string AvgPoolForward::kernel() const { return "global avgpool forward"; }
double AvgPoolForward::bytes() const { return 4.0 * (input_count() + planes(shape)); }

std::vector<TensorSpec> AvgPoolForward::tensors() const {
  return {in_tensor("x", x_dims(shape)), out_tensor("y", {shape.n, shape.c}, int64_t(shape.h) * shape.w)};
}

std::vector<Values> AvgPoolForward::make_inputs() const { return {random_values(input_count(), 12), {}}; }

std::vector<Expected> AvgPoolForward::reference(const std::vector<Values>& in) const {
  const int64_t hw = int64_t(shape.h) * shape.w;
  Values y(planes(shape), 0.0);
  for (int64_t p = 0; p < planes(shape); ++p) {
    for (int64_t j = 0; j < hw; ++j) y[p] += in[0][p * hw + j];
    y[p] /= double(hw);
  }
  return {{}, {y, {}}};
}

void AvgPoolForward::cpu(const OpArgs& a) const {
  global_avgpool_forward_cpu<float>(shape, a.at<float>(0), a.at<float>(1));
}
void AvgPoolForward::cpu_double(const OpArgs& a) const {
  global_avgpool_forward_cpu<double>(shape, a.at<double>(0), a.at<double>(1));
}

Op AvgPoolBackward::op() const { return Op::AvgPoolBackward; }
std::string AvgPoolBackward::kernel() const { return "global avgpool backward"; }
double AvgPoolBackward::bytes() const { return 4.0 * (input_count() + planes(shape)); }
std::unique_ptr<OpCase> AvgPoolBackward::forward() const { return std::make_unique<AvgPoolForward>(shape); }

std::vector<TensorSpec> AvgPoolBackward::tensors() const {
  return {in_tensor("dy", {shape.n, shape.c}), out_tensor("dx", x_dims(shape))};
}

std::vector<Values> AvgPoolBackward::make_inputs() const { return {random_values(planes(shape), 13), {}}; }

std::vector<Expected> AvgPoolBackward::reference(const std::vector<Values>& in) const {
  const int64_t hw = int64_t(shape.h) * shape.w;
  Values dx(input_count());
  for (int64_t i = 0; i < input_count(); ++i) dx[i] = in[0][i / hw] / double(hw);
  return {{}, {dx, {}}};
}

void AvgPoolBackward::cpu(const OpArgs& a) const {
  global_avgpool_backward_cpu<float>(shape, a.at<float>(0), a.at<float>(1));
}
void AvgPoolBackward::cpu_double(const OpArgs& a) const {
  global_avgpool_backward_cpu<double>(shape, a.at<double>(0), a.at<double>(1));
}

std::vector<OpCasePtr> pool_cases(const PoolShape& s) {
  return {std::make_shared<MaxPoolForward>(s),      std::make_shared<MaxPoolBackward>(s),
          std::make_shared<MaxPool3x3s2Forward>(s), std::make_shared<MaxPool3x3s2Backward>(s),
          std::make_shared<AvgPoolForward>(s),      std::make_shared<AvgPoolBackward>(s)};
}

}  // namespace elr::kernels
