// The LR-control kinds and schedule warm-ups beyond plain SGD: max-elr-warmup caps the largest ELR at
// 1 rad/step, uniform-elr's default target follows the one-layer model (decaying, with a weight-decay
// floor) or, as before, stays at its step-0 value, and --warmup-lr holds a constant low lr.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/error.h"
#include "experiments/run/train_config.h"
#include "optim/lr_control.h"

using namespace elr;

namespace {

// Scale-invariant layers with |W| = 1 and the given e = |g| / |W|, plus a BN weight (not rescaled).
std::vector<LayerStats> layers_with_e(const std::vector<double>& es) {
  std::vector<LayerStats> layers;
  for (size_t i = 0; i < es.size(); ++i) {
    LayerStats l;
    l.name = "layers." + std::to_string(i) + ".conv.weight";
    l.kind = ParamKind::Conv;
    l.scale_invariant = true;
    l.w2 = 1;
    l.g2 = es[i] * es[i];
    layers.push_back(l);
  }
  LayerStats bn;
  bn.name = "layers.0.bn.weight";
  bn.kind = ParamKind::BnWeight;
  bn.w2 = 4;
  bn.g2 = 1;
  layers.push_back(bn);
  return layers;
}

ScheduleConfig constant_schedule(double lr) {
  ScheduleConfig s;
  s.kind = ScheduleKind::Constant;
  s.lr = lr;
  s.total_steps = 100;
  return s;
}

}  // namespace

TEST_CASE("lr control: max-elr-warmup caps the lr at 1/e_max, so that no layer rotates more than 1 rad", "[lr_control]") {
  LrControlConfig control;
  control.kind = LrControlKind::MaxElrWarmup;
  LrController controller(constant_schedule(1.0), control);
  std::vector<LayerStats> layers = layers_with_e({10, 1, 0.1});
  const double global = controller.decide(0, layers);
  CHECK(global == Approx(0.1));
  for (const LayerStats& l : layers) CHECK(l.lr == global);  // one lr for every tensor
  CHECK(layers[0].lr * layers[0].e() == Approx(1.0));       // the fastest layer: 1 rad
  // Below the cap the schedule's lr is used as it is.
  LrController gentle(constant_schedule(0.05), control);
  std::vector<LayerStats> again = layers_with_e({10, 1, 0.1});
  CHECK(gentle.decide(0, again) == 0.05);
  // critical-warmup on the same layers caps at 1/sqrt(e_max e_min) = 1.
  control.kind = LrControlKind::CriticalWarmup;
  LrController critical(constant_schedule(3.0), control);
  std::vector<LayerStats> third = layers_with_e({10, 1, 0.1});
  CHECK(critical.decide(0, third) == Approx(1.0));
  CHECK(parse_lr_control("max-elr-warmup") == LrControlKind::MaxElrWarmup);
  CHECK(std::string(lr_control_name(LrControlKind::MaxElrWarmup)) == "max-elr-warmup");
}

TEST_CASE("lr control: uniform-elr's model target starts at the slowest layer's ELR and decays like a free layer's",
          "[lr_control]") {
  const std::vector<double> es = {8, 2, 0.5};  // smallest e 0.5, median 2
  const double lr = 0.5;
  auto targets = [&](const LrControlConfig& control, std::vector<int64_t> steps) {
    LrController controller(constant_schedule(lr), control);
    std::vector<double> out;
    for (int64_t t : steps) {
      std::vector<LayerStats> layers = layers_with_e(es);
      controller.decide(t, layers);
      for (size_t i = 0; i < es.size(); ++i) CHECK(layers[i].lr * es[i] == Approx(layers[0].lr * es[0]));  // uniform
      CHECK(layers.back().lr == lr);  // not scale-invariant: the schedule's lr
      out.push_back(layers[0].lr * es[0]);
    }
    return out;
  };
  const double e0 = lr * 0.5;  // the model rule's start: lr x the smallest e at step 0
  LrControlConfig model;
  model.kind = LrControlKind::UniformElr;
  std::vector<double> t = targets(model, {0, 1, 10, 1000});
  CHECK(t[0] == Approx(e0));
  CHECK(t[1] == Approx(1 / std::sqrt(1 / (e0 * e0) + 2.0)));
  CHECK(t[2] == Approx(1 / std::sqrt(1 / (e0 * e0) + 20.0)));
  CHECK(t[3] == Approx(1 / std::sqrt(1 / (e0 * e0) + 2000.0)));

  model.momentum = 0.9;  // the steady heavy-ball step is lr / (1 - momentum): 1/E^2 grows by 2 / 0.01 per step
  t = targets(model, {0, 10});
  CHECK(t[0] == Approx(e0));
  CHECK(t[1] == Approx(1 / std::sqrt(1 / (e0 * e0) + 2000.0)));

  model.weight_decay = 5e-4;  // floor sqrt(2 lr wd (1 - momentum)) = 0.00707
  const double floor = std::sqrt(2 * lr * 5e-4 * 0.1);
  t = targets(model, {1, 100000});
  CHECK(t[0] == Approx(1 / std::sqrt(1 / (e0 * e0) + 200.0)));
  CHECK(t[1] == Approx(floor));

  LrControlConfig step0 = model;  // the old rule: lr x the median e of step 0 for the whole run
  step0.target_rule = TargetElrRule::Step0;
  t = targets(step0, {0, 10, 1000});
  for (double v : t) CHECK(v == Approx(lr * 2));

  LrControlConfig fixed = model;  // an explicit target is held whatever the rule
  fixed.target_elr = 0.02;
  t = targets(fixed, {0, 1000});
  for (double v : t) CHECK(v == Approx(0.02));
}

TEST_CASE("lr control: --warmup-lr holds a constant lr for the warm-up steps, then the schedule", "[lr_control]") {
  ScheduleConfig s = constant_schedule(0.1);
  s.warmup_steps = 4;
  CHECK(scheduled_lr(s, 0) == Approx(0.025));  // linear: lr (step + 1) / N
  CHECK(scheduled_lr(s, 3) == Approx(0.1));
  s.warmup_lr = 0.01;
  for (int64_t step : {0, 1, 3}) CHECK(scheduled_lr(s, step) == 0.01);
  CHECK(scheduled_lr(s, 4) == 0.1);
  s.kind = ScheduleKind::Step;  // after the warm-up: the step schedule's value
  CHECK(scheduled_lr(s, 60) == Approx(0.01));
  CHECK(scheduled_lr(s, 80) == Approx(0.001));
}

TEST_CASE("lr control: the new options are checked, and old uniform-elr runs keep their step-0 target",
          "[lr_control]") {
  TrainConfig c;
  c.dataset = "synthetic";
  c.warmup_lr = 0.01;
  CHECK_THROWS_WITH(validate_train_config(c), Catch::Contains("--warmup-lr"));
  c.warmup_steps = 5;
  CHECK_NOTHROW(validate_train_config(c));
  c.target_elr_rule = TargetElrRule::Step0;
  CHECK_THROWS_WITH(validate_train_config(c), Catch::Contains("--target-elr-rule"));
  c.lr_control = LrControlKind::UniformElr;
  CHECK_NOTHROW(validate_train_config(c));
  c.bn_recalibrate = 10;
  c.evaluate = false;
  CHECK_THROWS_WITH(validate_train_config(c), Catch::Contains("--bn-recalibrate"));

  // A config.json from before --target-elr-rule: uniform-elr without a target had the step-0 rule.
  TrainConfig uniform;
  uniform.lr_control = LrControlKind::UniformElr;
  nlohmann::json old = config_to_json(uniform);
  for (const char* key : {"target_elr_rule", "warmup_lr", "bn_recalibrate"}) old.erase(key);
  CHECK(config_from_json(old, "config.json").target_elr_rule == TargetElrRule::Step0);
  CHECK(config_from_json(config_to_json(uniform), "config.json").target_elr_rule == TargetElrRule::Model);
  nlohmann::json plain = config_to_json(TrainConfig{});
  plain.erase("target_elr_rule");
  CHECK(config_from_json(plain, "config.json").target_elr_rule == TargetElrRule::Model);
  const LrControlConfig l = lr_control_config(uniform);
  CHECK(l.kind == LrControlKind::UniformElr);
  CHECK(l.momentum == uniform.momentum);
}
