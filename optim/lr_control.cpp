#include "optim/lr_control.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

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
  if (c.warmup_steps > 0 && step < c.warmup_steps) lr *= static_cast<double>(step + 1) / c.warmup_steps;
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

LrControl parse_lr_control(const std::string& name) {
  if (name == "none" || name == "constant") return LrControl::None;
  if (name == "critical-warmup") return LrControl::CriticalWarmup;
  if (name == "uniform-elr") return LrControl::UniformElr;
  if (name == "lars") return LrControl::Lars;
  throw UserError(
      fmt::format("--lr-control: unknown control '{}' (expected none, critical-warmup, uniform-elr or lars)", name));
}

const char* lr_control_name(LrControl c) {
  switch (c) {
    case LrControl::None: return "none";
    case LrControl::CriticalWarmup: return "critical-warmup";
    case LrControl::UniformElr: return "uniform-elr";
    case LrControl::Lars: return "lars";
  }
  return "?";
}

bool is_lars_weight(ParamKind kind, const std::string& name) {
  const std::string suffix = ".weight";
  return kind == ParamKind::Conv || kind == ParamKind::Linear ||
         (kind == ParamKind::Classifier && name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
}

LrController::LrController(ScheduleConfig schedule, LrControlConfig control)
    : schedule_(std::move(schedule)), control_(control) {
  reference_elr_ = control_.target_elr;
}

double LrController::decide(int64_t step, std::vector<LayerStats>& layers) {
  const double target = scheduled_lr(schedule_, step);
  double global = target;
  for (LayerStats& l : layers) l.lr = target;
  switch (control_.kind) {
    case LrControl::None:
      break;
    case LrControl::CriticalWarmup: {
      const SpreadStats s = summarize_spread(layers);
      if (s.layers > 0 && s.critical_lr > 0) global = std::min(target, s.critical_lr);
      for (LayerStats& l : layers) l.lr = global;
      break;
    }
    case LrControl::UniformElr: {
      if (reference_elr_ <= 0) {
        std::vector<double> es;
        for (const LayerStats& l : layers)
          if (l.scale_invariant && l.e() > 0) es.push_back(l.e());
        if (!es.empty()) {
          std::nth_element(es.begin(), es.begin() + es.size() / 2, es.end());
          reference_elr_ = schedule_.lr * es[es.size() / 2];
        }
      }
      const double elr_target = reference_elr_ * (target / schedule_.lr);
      for (LayerStats& l : layers)
        if (l.scale_invariant && l.e() > 0) l.lr = elr_target / l.e();
      break;
    }
    case LrControl::Lars: {
      for (LayerStats& l : layers) {
        if (is_lars_weight(l.kind, l.name) && l.g2 > 0 && l.w2 > 0) l.lr = target * control_.lars_trust * std::sqrt(l.w2 / l.g2);
      }
      break;
    }
  }
  return global;
}

}  // namespace elr
