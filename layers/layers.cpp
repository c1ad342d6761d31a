#include "layers/layers.h"

#include <cmath>

#include "engine/error.h"
#include "layers/init.h"

namespace elr {

Conv2d::Conv2d(int in_channels, int out_channels, int kernel, int stride, int pad) : stride_(stride), pad_(pad) {
  ELR_CHECK(in_channels > 0 && out_channels > 0 && kernel > 0 && stride > 0 && pad >= 0,
            "Conv2d: bad configuration in={} out={} kernel={} stride={} pad={}", in_channels, out_channels, kernel,
            stride, pad);
  weight_ = &add_parameter("weight", ParamKind::Conv, Tensor::zeros({out_channels, in_channels, kernel, kernel}));
}

Tensor Conv2d::forward(const Tensor& x) { return ops::conv2d(x, weight_->value, stride_, pad_); }

void Conv2d::reset_own(uint64_t seed, uint64_t& stream) { init::kaiming_normal_fan_out(weight_->value, seed, stream++); }

BatchNorm2d::BatchNorm2d(int channels, bool fused_relu, float momentum, float eps)
    : fused_relu_(fused_relu), momentum_(momentum), eps_(eps) {
  gamma_ = &add_parameter("weight", ParamKind::BnWeight, Tensor::full({channels}, 1.0f));
  beta_ = &add_parameter("bias", ParamKind::BnBias, Tensor::zeros({channels}));
  running_mean_ = &add_buffer("running_mean", Tensor::zeros({channels}));
  running_var_ = &add_buffer("running_var", Tensor::full({channels}, 1.0f));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  ops::BatchNormOptions opt;
  opt.training = training_;
  opt.relu = fused_relu_;
  opt.momentum = momentum_;
  opt.eps = eps_;
  opt.groups = groups_;
  opt.ranks = ranks_;
  return ops::batch_norm(x, gamma_->value, beta_->value, running_mean_->value, running_var_->value, opt);
}

void BatchNorm2d::set_statistics(int groups, Communicator* ranks) {
  ELR_CHECK(groups >= 1, "BatchNorm2d: {} statistics groups", groups);
  groups_ = groups;
  ranks_ = ranks;
}

void set_batch_norm_statistics(Module& model, int groups, Communicator* ranks) {
  model.for_each_module([&](Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) bn->set_statistics(groups, ranks);
  });
}

void BatchNorm2d::reset_own(uint64_t seed, uint64_t& stream) {
  init::constant(gamma_->value, 1.0f);
  init::constant(beta_->value, 0.0f);
  init::constant(running_mean_->value, 0.0f);
  init::constant(running_var_->value, 1.0f);
  stream += 2;
}

Linear::Linear(int in_features, int out_features, bool bias, ParamKind kind) {
  ELR_CHECK(in_features > 0 && out_features > 0, "Linear: bad configuration in={} out={}", in_features,
            out_features);
  weight_ = &add_parameter("weight", kind, Tensor::zeros({out_features, in_features}));
  if (bias) bias_ = &add_parameter("bias", kind, Tensor::zeros({out_features}));
}

Tensor Linear::forward(const Tensor& x) { return ops::linear(x, weight_->value, bias_ ? bias_->value : Tensor()); }

void Linear::reset_own(uint64_t seed, uint64_t& stream) {
  // torch.nn.Linear's default: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias the same.
  const float bound = 1.0f / std::sqrt(static_cast<float>(init::fan_in(weight_->value)));
  init::uniform(weight_->value, bound, seed, stream++);
  if (bias_) init::uniform(bias_->value, bound, seed, stream++);
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : modules_) h = m->forward(h);
  return h;
}

ConvBn::ConvBn(int in_channels, int out_channels, int kernel, int stride, bool relu) {
  conv_ = &add_child("conv", std::make_shared<Conv2d>(in_channels, out_channels, kernel, stride, kernel / 2));
  bn_ = &add_child("bn", std::make_shared<BatchNorm2d>(out_channels, relu));
  conv_->weight().scale_invariant = true;
}

Tensor ConvBn::forward(const Tensor& x) { return bn_->forward(conv_->forward(x)); }

ResidualBlock::ResidualBlock(int in_channels, const std::vector<Stage>& stages, bool shortcut, Projection projection)
    : shortcut_(shortcut) {
  ELR_CHECK(!stages.empty(), "ResidualBlock: no stages");
  int channels = in_channels, stride = 1;
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& st = stages[i];
    const std::string n = std::to_string(i + 1);
    const bool relu = i + 1 < stages.size() || !shortcut;
    Conv2d& conv = add_child("conv" + n, std::make_shared<Conv2d>(channels, st.out_channels, st.kernel, st.stride,
                                                                  st.kernel / 2));
    BatchNorm2d& bn = add_child("bn" + n, std::make_shared<BatchNorm2d>(st.out_channels, relu));
    conv.weight().scale_invariant = true;
    stages_.push_back({&conv, &bn});
    channels = st.out_channels;
    stride *= st.stride;
  }
  if (!shortcut || (stride == 1 && in_channels == channels)) return;
  if (projection == Projection::Shortcut) {
    projection_ = &add_child("shortcut", std::make_shared<ConvBn>(in_channels, channels, 1, stride, false));
  } else {
    auto downsample = std::make_shared<Sequential>();
    downsample->add(std::make_shared<Conv2d>(in_channels, channels, 1, stride, 0)).weight().scale_invariant = true;
    downsample->add(std::make_shared<BatchNorm2d>(channels));
    projection_ = &add_child("downsample", downsample);
  }
}

Tensor ResidualBlock::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [conv, bn] : stages_) h = bn->forward(conv->forward(h));
  if (!shortcut_) return h;
  Tensor skip = projection_ ? projection_->forward(x) : x;
  return ops::add(h, skip, /*relu=*/true);
}

}  // namespace elr
