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
  int64_t warmup_steps = 0;               // warm-up: linear from lr/warmup to lr, or warmup_lr
  double warmup_lr = 0;                   // > 0: this constant lr during the warm-up steps instead
};
double scheduled_lr(const ScheduleConfig& c, int64_t step);

using kernels::LrControlKind;  // one enum of the control kinds, for the host and the device
LrControlKind parse_lr_control(const std::string& name);  // none | critical-warmup | uniform-elr | lars | max-elr-warmup
const char* lr_control_name(LrControlKind c);

// How uniform-elr sets its target ELR when none is given: `model`, the one-layer model's ELR of a
// free layer that starts at lr x the smallest e of step 0 (the largest ELR that no layer needs more
// than the schedule's lr for), decaying, with a weight-decay floor; `step0`, lr x the median e of
// step 0, held for the whole run (docs/outputs.md).
enum class TargetElrRule { Model, Step0 };
TargetElrRule parse_target_elr_rule(const std::string& name);  // model | step0
const char* target_elr_rule_name(TargetElrRule r);

// A layer's flags for the LR-control rule (kernels/lr_control_rule.h): kLayerScaleInvariant,
// kLayerLarsWeight for the tensors LARS rescales: conv and linear weights, and the classifier's
// weight (not biases or BN parameters), and kLayerAffine for the BN gammas and betas and the
// classifier's weight and bias (--affine-lr-scale).
uint8_t lr_control_flags(bool scale_invariant, ParamKind kind, const std::string& name);

struct LrControlConfig {
  LrControlKind kind = LrControlKind::None;
  double target_elr = 0;        // uniform-elr: > 0 a fixed target; 0: set by target_rule
  TargetElrRule target_rule = TargetElrRule::Model;
  double momentum = 0;          // the SGD settings the model rule's target follows
  double weight_decay = 0;
  double lars_trust = 0.001;    // lars: trust coefficient
  double affine_lr_scale = 1;   // lr multiplier of the BN gammas and betas and the classifier (0 freezes them)
};

// The rule's settings (kernels/lr_control_rule.h) for this schedule and control, for the host and
// the device: for uniform-elr's model target its start (the smallest e), its growth of 1/E^2 per
// step, 2 / (1 - momentum)^2, and its floor, the weight-decay equilibrium sqrt(2 lr wd (1 - momentum)).
kernels::LrControlArgs lr_control_args(const ScheduleConfig& schedule, const LrControlConfig& control);

class LrController {
 public:
  LrController(ScheduleConfig schedule, LrControlConfig control);
  // Writes every layer's lr into `layers` (from this step's statistics) and returns the global lr
  // (the schedule's target, capped under critical-warmup and max-elr-warmup): the rule of
  // kernels/lr_control_rule.h, the same the device step runs.
  double decide(int64_t step, std::vector<LayerStats>& layers);
  double reference_elr() const { return reference_elr_; }
  void set_reference_elr(double v) { reference_elr_ = v; }  // restored on resume

 private:
  ScheduleConfig schedule_;
  kernels::LrControlArgs args_;
  double reference_elr_ = 0;  // uniform-elr target at schedule factor 1
};

}  // namespace elr
