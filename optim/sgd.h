// SGD with momentum (heavy ball as torch.optim.SGD, or dampened), nesterov and weight decay, per-layer learning
// rates, and the layer statistics taken before each update: the host's optimizer. On a CUDA device
// the update runs as DeviceSgdStep (optim/device_sgd.h) on these parameters and momentum buffers.
#pragma once
#include <cstdint>
#include <vector>

#include "layers/module.h"
#include "optim/layer_stats.h"
#include "optim/lr_control.h"

namespace elr {

struct SgdConfig {
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool dampened = false;  // v = momentum v + (1 - momentum) d, v_0 = (1 - momentum) d_0 (kernels/kernels.h)
};

class Sgd {
 public:
  Sgd(std::vector<Parameter*> params, SgdConfig config);
  // Measures every layer, lets `controller` choose the per-layer learning rates, applies the update
  // (recording |dW|^2 per layer) and clears the gradients. Returns the step's statistics; `global_lr`
  // receives the controller's global lr. Parameters on the CPU. `stats_seconds`, when given,
  // receives the time of the statistics and the LR control alone (the benchmark's share column).
  std::vector<LayerStats> step(LrController& controller, double& global_lr, double* stats_seconds = nullptr);
  int64_t steps_taken() const { return steps_; }
  const std::vector<Parameter*>& params() const { return params_; }
  const SgdConfig& config() const { return config_; }
  std::vector<Tensor>& momentum_buffers() { return momentum_; }
  void set_steps_taken(int64_t s) { steps_ = s; }

 private:
  std::vector<Parameter*> params_;
  std::vector<Tensor> momentum_;  // undefined until the first step (PyTorch: v0 = g0)
  SgdConfig config_;
  int64_t steps_ = 0;
};

}  // namespace elr
