#include "optim/sgd.h"

#include <chrono>

#include "engine/autograd.h"
#include "engine/error.h"
#include "kernels/kernels.h"

namespace elr {

Sgd::Sgd(std::vector<Parameter*> params, SgdConfig config)
    : params_(std::move(params)), momentum_(params_.size()), config_(config) {
  ELR_CHECK(config.momentum >= 0 && config.momentum < 1, "SGD: momentum {} outside [0, 1)", config.momentum);
  ELR_CHECK(!config.nesterov || config.momentum > 0, "SGD: nesterov needs a momentum > 0");
  ELR_CHECK(!config.dampened || config.momentum > 0, "SGD: dampened momentum needs a momentum > 0");
}

std::vector<LayerStats> Sgd::step(LrController& controller, double& global_lr, double* stats_seconds) {
  autograd::NoGradGuard no_grad;
  ELR_CHECK(params_.empty() || params_[0]->value.device().is_cpu(),
            "SGD: the parameters are on {}; a CUDA device's update is DeviceSgdStep", params_[0]->value.device().str());
  const auto start = std::chrono::steady_clock::now();
  std::vector<LayerStats> layers = measure_layers(params_, momentum_);
  global_lr = controller.decide(steps_, layers);
  if (stats_seconds) *stats_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i < params_.size(); ++i) {
    Parameter& p = *params_[i];
    kernels::SgdParams sp;
    sp.lr = static_cast<float>(layers[i].lr);
    sp.momentum = static_cast<float>(config_.momentum);
    sp.weight_decay = static_cast<float>(config_.weight_decay);
    sp.nesterov = config_.nesterov;
    sp.dampened = config_.dampened;
    sp.first_step = !momentum_[i].defined();
    if (config_.momentum > 0 && !momentum_[i].defined()) momentum_[i] = Tensor::empty(p.value.shape());
    layers[i].dw2 = kernels::sgd_update_cpu(p.value.numel(), sp, p.value.data(), p.value.grad().data(),
                                            config_.momentum > 0 ? momentum_[i].data() : nullptr);
    p.value.reset_grad();
  }
  ++steps_;
  return layers;
}

}  // namespace elr
