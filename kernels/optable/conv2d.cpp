// conv2d cases: the naive direct loops (kernels/cpu/conv2d_naive.cpp) in double are the reference,
// on every image of small cases, on the first and the last of large ones.
#include <fmt/format.h>

#include <algorithm>

#include "kernels/optable/ops.h"
#include "kernels/optable/random.h"

namespace elr::kernels {

namespace {

int64_t x_count(const Conv2dShape& s) { return int64_t(s.n) * s.c * s.h * s.w; }
int64_t w_count(const Conv2dShape& s) { return int64_t(s.k) * s.c * s.r * s.s; }
int64_t y_count(const Conv2dShape& s) { return int64_t(s.n) * s.k * s.p() * s.q(); }
std::vector<int64_t> x_dims(const Conv2dShape& s) { return {s.n, s.c, s.h, s.w}; }
std::vector<int64_t> w_dims(const Conv2dShape& s) { return {s.k, s.c, s.r, s.s}; }
std::vector<int64_t> y_dims(const Conv2dShape& s) { return {s.n, s.k, s.p(), s.q()}; }
double conv_bytes(const Conv2dShape& s) { return 4.0 * double(x_count(s) + w_count(s) + y_count(s)); }

Values conv_x(const Conv2dShape& s) { return random_values(x_count(s), 1); }
Values conv_w(const Conv2dShape& s) { return random_values(w_count(s), 2); }
Values conv_dy(const Conv2dShape& s) { return random_values(y_count(s), 3); }

// The images `images` of an [n, per_image] tensor, back to back.
Values gather(const Values& t, int64_t per_image, const std::vector<int>& images) {
  Values out;
  out.reserve(images.size() * per_image);
  for (int i : images) out.insert(out.end(), t.begin() + i * per_image, t.begin() + (i + 1) * per_image);
  return out;
}

// Where those images' elements are in the full tensor.
std::vector<int64_t> image_index(int64_t per_image, const std::vector<int>& images) {
  std::vector<int64_t> index;
  for (int i : images)
    for (int64_t j = 0; j < per_image; ++j) index.push_back(i * per_image + j);
  return index;
}

Conv2dShape with_batch(Conv2dShape s, int n) {
  s.n = n;
  return s;
}

}  // namespace

std::string Conv2dCase::name() const {
  const Conv2dShape& s = shape;
  return fmt::format("conv2d(n={},c={},h={},w={},k={},r={},s={},stride={},pad={})", s.n, s.c, s.h, s.w, s.k, s.r, s.s,
                     s.stride, s.pad);
}

double Conv2dCase::flop() const {
  const Conv2dShape& s = shape;
  return 2.0 * s.n * s.k * double(s.c) * s.r * s.s * s.p() * s.q();
}

std::vector<int> Conv2dCase::checked_images() const {
  std::vector<int> images;
  if (shape.n <= 2 || flop() / 2 <= kFullReferenceMacs) {
    for (int i = 0; i < shape.n; ++i) images.push_back(i);
  } else {
    images = {0, shape.n - 1};
  }
  return images;
}

// ---- forward ----------------------------------------------------------------------------------------
Op Conv2dForward::op() const { return Op::Conv2dForward; }
std::string Conv2dForward::kernel() const { return "conv2d forward"; }
double Conv2dForward::bytes() const { return conv_bytes(shape); }

std::vector<TensorSpec> Conv2dForward::tensors() const {
  return {in_tensor("x", x_dims(shape)), in_tensor("w", w_dims(shape)),
          out_tensor("y", y_dims(shape), int64_t(shape.c) * shape.r * shape.s)};
}

std::vector<Values> Conv2dForward::make_inputs() const { return {conv_x(shape), conv_w(shape), {}}; }

std::vector<Expected> Conv2dForward::reference(const std::vector<Values>& in) const {
  const std::vector<int> images = checked_images();
  const Conv2dShape small = with_batch(shape, int(images.size()));
  const Values x = gather(in[0], x_count(shape) / shape.n, images);
  Expected y{Values(y_count(small)), {}};
  conv2d_forward_naive<double>(small, x.data(), in[1].data(), y.values.data());
  if (small.n < shape.n) y.index = image_index(y_count(shape) / shape.n, images);
  return {{}, {}, y};
}

void Conv2dForward::cpu(const OpArgs& a) const {
  conv2d_forward_cpu<float>(shape, a.at<float>(0), a.at<float>(1), a.at<float>(2));
}
void Conv2dForward::cpu_double(const OpArgs& a) const {
  conv2d_forward_cpu<double>(shape, a.at<double>(0), a.at<double>(1), a.at<double>(2));
}

// ---- backward-data ------------------------------------------------------------------------------------
Op Conv2dBackwardData::op() const { return Op::Conv2dBackwardData; }
std::string Conv2dBackwardData::kernel() const { return "conv2d backward-data"; }
double Conv2dBackwardData::bytes() const { return conv_bytes(shape); }
std::unique_ptr<OpCase> Conv2dBackwardData::forward() const { return std::make_unique<Conv2dForward>(shape); }

std::vector<TensorSpec> Conv2dBackwardData::tensors() const {
  return {in_tensor("dy", y_dims(shape)), in_tensor("w", w_dims(shape)),
          out_tensor("dx", x_dims(shape), int64_t(shape.k) * shape.r * shape.s)};
}

std::vector<Values> Conv2dBackwardData::make_inputs() const { return {conv_dy(shape), conv_w(shape), {}}; }

std::vector<Expected> Conv2dBackwardData::reference(const std::vector<Values>& in) const {
  const std::vector<int> images = checked_images();
  const Conv2dShape small = with_batch(shape, int(images.size()));
  const Values dy = gather(in[0], y_count(shape) / shape.n, images);
  Expected dx{Values(x_count(small)), {}};
  conv2d_backward_data_naive<double>(small, dy.data(), in[1].data(), dx.values.data());
  if (small.n < shape.n) dx.index = image_index(x_count(shape) / shape.n, images);
  return {{}, {}, dx};
}

void Conv2dBackwardData::cpu(const OpArgs& a) const {
  conv2d_backward_data_cpu<float>(shape, a.at<float>(0), a.at<float>(1), a.at<float>(2));
}
void Conv2dBackwardData::cpu_double(const OpArgs& a) const {
  conv2d_backward_data_cpu<double>(shape, a.at<double>(0), a.at<double>(1), a.at<double>(2));
}

// ---- backward-weight ------------------------------------------------------------------------------------
Op Conv2dBackwardWeight::op() const { return Op::Conv2dBackwardWeight; }
std::string Conv2dBackwardWeight::kernel() const { return "conv2d backward-weight"; }
double Conv2dBackwardWeight::bytes() const { return conv_bytes(shape); }
std::unique_ptr<OpCase> Conv2dBackwardWeight::forward() const { return std::make_unique<Conv2dForward>(shape); }

std::vector<TensorSpec> Conv2dBackwardWeight::tensors() const {
  return {in_tensor("x", x_dims(shape)), in_tensor("dy", y_dims(shape)),
          out_tensor("dw", w_dims(shape), int64_t(shape.n) * shape.p() * shape.q())};
}

std::vector<Values> Conv2dBackwardWeight::make_inputs() const { return {conv_x(shape), conv_dy(shape), {}}; }

// dy zero outside the checked images: the reference on those images alone is then exact.
std::vector<Values> Conv2dBackwardWeight::validation_inputs(const std::vector<Values>& inputs) const {
  const std::vector<int> images = checked_images();
  if (int(images.size()) == shape.n) return inputs;
  std::vector<Values> out = inputs;
  Values& dy = out[1];
  const int64_t per_image = y_count(shape) / shape.n;
  std::fill(dy.begin(), dy.end(), 0.0);
  for (int i : images) std::copy_n(inputs[1].begin() + i * per_image, per_image, dy.begin() + i * per_image);
  return out;
}

std::vector<Expected> Conv2dBackwardWeight::reference(const std::vector<Values>& in) const {
  const std::vector<int> images = checked_images();
  const Conv2dShape small = with_batch(shape, int(images.size()));
  const Values x = gather(in[0], x_count(shape) / shape.n, images);
  const Values dy = gather(in[1], y_count(shape) / shape.n, images);
  Expected dw{Values(w_count(shape)), {}};
  conv2d_backward_weight_naive<double>(small, x.data(), dy.data(), dw.values.data());
  return {{}, {}, dw};
}

void Conv2dBackwardWeight::cpu(const OpArgs& a) const {
  conv2d_backward_weight_cpu<float>(shape, a.at<float>(0), a.at<float>(1), a.at<float>(2));
}
void Conv2dBackwardWeight::cpu_double(const OpArgs& a) const {
  conv2d_backward_weight_cpu<double>(shape, a.at<double>(0), a.at<double>(1), a.at<double>(2));
}

std::vector<OpCasePtr> conv2d_cases(const Conv2dShape& s) {
  return {std::make_shared<Conv2dForward>(s), std::make_shared<Conv2dBackwardData>(s),
          std::make_shared<Conv2dBackwardWeight>(s)};
}

}  // namespace elr::kernels
