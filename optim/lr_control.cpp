#include "optim/lr_control.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "kernels/lr_control_rule.h"

namespace elr {

double scheduled_lr(const ScheduleConfig& c, int64_t step) {
  double lr = c.lr;
  const double total = static_cast<double>(std::max<int64_t>(c.total_steps, 1));
  switch (c.kind) {
    case ScheduleKind::Constant:
      break;
    case ScheduleKind::Step:
      for (double m : c.milestones)
        if (step >= static_cast<int64_t>(std::llround(m * total))) lr *= c.gamma;
      break;
    case ScheduleKind::Cosine:
      lr *= 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, step / total)));
      break;
  }
  if (c.warmup_steps > 0 && step < c.warmup_steps)
    return c.warmup_lr > 0 ? c.warmup_lr : lr * static_cast<double>(step + 1) / c.warmup_steps;
  return lr;
}

ScheduleKind parse_schedule_kind(const std::string& name) {
  if (name == "constant") return ScheduleKind::Constant;
  if (name == "step") return ScheduleKind::Step;
  if (name == "cosine") return ScheduleKind::Cosine;
  throw UserError(fmt::format("--schedule: unknown schedule '{}' (expected constant, step or cosine)", name));
}

const char* schedule_kind_name(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::Constant: return "constant";
    case ScheduleKind::Step: return "step";
    case ScheduleKind::Cosine: return "cosine";
  }
  return "?";
}

LrControlKind parse_lr_control(const std::string& name) {
  if (name == "none" || name == "constant") return LrControlKind::None;
  if (name == "critical-warmup") return LrControlKind::CriticalWarmup;
  if (name == "uniform-elr") return LrControlKind::UniformElr;
  if (name == "lars") return LrControlKind::Lars;
  if (name == "max-elr-warmup") return LrControlKind::MaxElrWarmup;
  throw UserError(fmt::format(
      "--lr-control: unknown control '{}' (expected none, critical-warmup, uniform-elr, lars or max-elr-warmup)", name));
}

const char* lr_control_name(LrControlKind c) {
  switch (c) {
    case LrControlKind::None: return "none";
    case LrControlKind::CriticalWarmup: return "critical-warmup";
    case LrControlKind::UniformElr: return "uniform-elr";
    case LrControlKind::Lars: return "lars";
    case LrControlKind::MaxElrWarmup: return "max-elr-warmup";
  }
  return "?";
}

TargetElrRule parse_target_elr_rule(const std::string& name) {
  if (name == "model") return TargetElrRule::Model;
  if (name == "step0") return TargetElrRule::Step0;
  throw UserError(fmt::format("--target-elr-rule: unknown rule '{}' (expected model or step0)", name));
}

const char* target_elr_rule_name(TargetElrRule r) { return r == TargetElrRule::Model ? "model" : "step0"; }

uint8_t lr_control_flags(bool scale_invariant, ParamKind kind, const std::string& name) {
  const std::string suffix = ".weight";
  const bool lars_weight = kind == ParamKind::Conv || kind == ParamKind::Linear ||
                           (kind == ParamKind::Classifier && name.size() > suffix.size() &&
                            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
  const bool affine = kind == ParamKind::BnWeight || kind == ParamKind::BnBias || kind == ParamKind::Classifier;
  return static_cast<uint8_t>((scale_invariant ? kernels::kLayerScaleInvariant : 0) |
                              (lars_weight ? kernels::kLayerLarsWeight : 0) | (affine ? kernels::kLayerAffine : 0));
}

kernels::LrControlArgs lr_control_args(const ScheduleConfig& schedule, const LrControlConfig& control) {
  kernels::LrControlArgs a;
  a.kind = control.kind;
  a.base_lr = schedule.lr;
  a.lars_trust = control.lars_trust;
  a.affine_lr_scale = control.affine_lr_scale;
  if (control.kind == LrControlKind::UniformElr && control.target_elr <= 0 &&
      control.target_rule == TargetElrRule::Model) {
    const double beta = control.momentum;
    a.reference_min_e = true;
    a.elr_growth = 2.0 / ((1.0 - beta) * (1.0 - beta));
    a.elr_floor = std::sqrt(2.0 * schedule.lr * control.weight_decay * (1.0 - beta));
  }
  return a;
}

LrController::LrController(ScheduleConfig schedule, LrControlConfig control)
    : schedule_(std::move(schedule)), args_(lr_control_args(schedule_, control)) {
  reference_elr_ = control.target_elr;
}

double LrController::decide(int64_t step, std::vector<LayerStats>& layers) {
  const size_t n = layers.size();
  std::vector<kernels::TensorStats> stats(n);
  std::vector<uint8_t> flags(n);
  for (size_t i = 0; i < n; ++i) {
    const LayerStats& l = layers[i];
    stats[i] = {l.w2, l.g2, l.gw, l.v2};
    flags[i] = lr_control_flags(l.scale_invariant, l.kind, l.name);
  }
  std::vector<double> lrs(n);
  const double global = kernels::lr_control_rule(static_cast<int>(n), stats.data(), flags.data(), args_, step,
                                                 scheduled_lr(schedule_, step), &reference_elr_, lrs.data());
  for (size_t i = 0; i < n; ++i) layers[i].lr = lrs[i];
  return global;
}

}  // namespace elr
