#include "optim/sgd.h"

#include "engine/autograd.h"
#include "engine/device_ops.h"
#include "engine/error.h"
#include "kernels/kernels.h"
#include "optim/device_array.h"

namespace elr {

Sgd::Sgd(std::vector<Parameter*> params, SgdConfig config)
    : params_(std::move(params)), momentum_(params_.size()), config_(config) {
  ELR_CHECK(config.momentum >= 0 && config.momentum < 1, "SGD: momentum {} outside [0, 1)", config.momentum);
  ELR_CHECK(!config.nesterov || config.momentum > 0, "SGD: nesterov needs a momentum > 0");
}

std::vector<LayerStats> Sgd::step(LrController& controller, double& global_lr) {
  autograd::NoGradGuard no_grad;
  if (!params_.empty() && params_[0]->value.device().is_cuda()) return step_cuda(controller, global_lr);
  std::vector<LayerStats> layers = measure_layers(params_, momentum_);
  global_lr = controller.decide(steps_, layers);
  for (size_t i = 0; i < params_.size(); ++i) {
    Parameter& p = *params_[i];
    kernels::SgdParams sp;
    sp.lr = static_cast<float>(layers[i].lr);
    sp.momentum = static_cast<float>(config_.momentum);
    sp.weight_decay = static_cast<float>(config_.weight_decay);
    sp.nesterov = config_.nesterov;
    sp.first_step = !momentum_[i].defined();
    if (config_.momentum > 0 && !momentum_[i].defined()) momentum_[i] = Tensor::empty(p.value.shape());
    layers[i].dw2 = kernels::sgd_update_cpu(p.value.numel(), sp, p.value.data(), p.value.grad().data(),
                                            config_.momentum > 0 ? momentum_[i].data() : nullptr);
    p.value.reset_grad();
  }
  ++steps_;
  return layers;
}


std::vector<LayerStats> Sgd::step_cuda(LrController& controller, double& global_lr) {
  const CudaOps& ops = cuda_ops();
  const Device device = params_[0]->value.device();
  const size_t n = params_.size();
  std::vector<kernels::MultiTensorDesc> descs(n);
  for (size_t i = 0; i < n; ++i) {
    Parameter& p = *params_[i];
    ELR_CHECK(p.value.has_grad(), "SGD: parameter '{}' has no gradient (was backward run?)", p.name);
    if (config_.momentum > 0 && !momentum_[i].defined()) momentum_[i] = Tensor::zeros(p.value.shape(), DType::F32, device);
    descs[i] = {p.value.data(), p.value.grad().data(), config_.momentum > 0 ? momentum_[i].data() : nullptr,
                p.value.numel()};
  }
  kernels::MultiTensorList list = ops.make_multi_tensor_list(descs.data(), static_cast<int>(n));
  Tensor stats_dev = device_array<kernels::TensorStats>(n, device);
  auto* stats_ptr = static_cast<kernels::TensorStats*>(stats_dev.raw());
  ops.tensor_stats(list, stats_ptr, ops.stream());
  const std::vector<kernels::TensorStats> stats = download<kernels::TensorStats>(stats_dev, n);

  std::vector<LayerStats> layers(n);
  for (size_t i = 0; i < n; ++i) {
    layers[i] = layer_stats_of(*params_[i], stats[i]);
    if (steps_ == 0) layers[i].v2 = 0;  // no buffer before the first step
  }
  global_lr = controller.decide(steps_, layers);
  std::vector<double> lrs(n);
  for (size_t i = 0; i < n; ++i) lrs[i] = layers[i].lr;
  Tensor lrs_dev = device_array<double>(n, device), dw2_dev = device_array<double>(n, device);
  upload(lrs_dev, lrs.data(), n);
  kernels::SgdParams sp;
  sp.momentum = static_cast<float>(config_.momentum);
  sp.weight_decay = static_cast<float>(config_.weight_decay);
  sp.nesterov = config_.nesterov;
  sp.first_step = steps_ == 0;
  ops.sgd_update(list, sp, static_cast<const double*>(lrs_dev.raw()), static_cast<double*>(dw2_dev.raw()), ops.stream());
  const std::vector<double> dw2 = download<double>(dw2_dev, n);
  ops.free_multi_tensor_list(list);
  for (size_t i = 0; i < n; ++i) {
    layers[i].dw2 = dw2[i];
    params_[i]->value.reset_grad();
  }
  ++steps_;
  return layers;
}

}  // namespace elr
