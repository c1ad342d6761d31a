// Learning-rate control: a global schedule (constant, step, cosine, with linear warm-up) and a
// controller that turns it into per-layer learning rates from this step's statistics
// (docs/outputs.md describes each).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "optim/layer_stats.h"

namespace elr {

enum class ScheduleKind { Constant, Step, Cosine };
ScheduleKind parse_schedule_kind(const std::string& name);  // constant | step | cosine
const char* schedule_kind_name(ScheduleKind k);

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::Constant;
  double lr = 0.1;                        // base learning rate
  int64_t total_steps = 1;                // for cosine and step milestones
  std::vector<double> milestones = {0.5, 0.75};  // step: fractions of total_steps, x gamma at each
  double gamma = 0.1;
  int64_t warmup_steps = 0;               // linear warm-up from lr/warmup to lr
};
double scheduled_lr(const ScheduleConfig& c, int64_t step);

using kernels::LrControlKind;  // one enum of the control kinds, for the host and the device
LrControlKind parse_lr_control(const std::string& name);  // none | critical-warmup | uniform-elr | lars
const char* lr_control_name(LrControlKind c);

// A layer's flags for the LR-control rule (kernels/lr_control_rule.h): kLayerScaleInvariant,
// kLayerLarsWeight for the tensors LARS rescales: conv and linear weights, and the classifier's
// weight (not biases or BN parameters), and kLayerAffine for the BN gammas and betas and the
// classifier's weight and bias (--affine-lr-scale).
uint8_t lr_control_flags(bool scale_invariant, ParamKind kind, const std::string& name);

struct LrControlConfig {
  LrControlKind kind = LrControlKind::None;
  double target_elr = 0;        // uniform-elr: 0 = lr x the median layer's e at step 0 (frozen)
  double lars_trust = 0.001;    // lars: trust coefficient
  double affine_lr_scale = 1;   // lr multiplier of the BN gammas and betas and the classifier (0 freezes them)
};

class LrController {
 public:
  LrController(ScheduleConfig schedule, LrControlConfig control);
  // Writes every layer's lr into `layers` (from this step's statistics) and returns the global lr
  // (the schedule's target, capped by the critical LR under critical-warmup): the rule of
  // kernels/lr_control_rule.h, the same the device step runs.
  double decide(int64_t step, std::vector<LayerStats>& layers);
  double reference_elr() const { return reference_elr_; }
  void set_reference_elr(double v) { reference_elr_ = v; }  // restored on resume

 private:
  ScheduleConfig schedule_;
  LrControlConfig control_;
  double reference_elr_ = 0;  // uniform-elr target at schedule factor 1
};

}  // namespace elr
