#include "experiments/run/train_config.h"

#include <charconv>
#include <set>
#include <sstream>
#include <vector>

#include "experiments/data/dataset.h"

namespace elr {

namespace {

template <class T>
nlohmann::json to_json_value(const T& value) {
  if constexpr (is_named_setting<T>)
    return setting_text(value);
  else
    return value;
}

template <class T>
void from_json_value(const nlohmann::json& j, T& value) {
  if constexpr (is_named_setting<T>)
    parse_setting(j.get<std::string>(), value);
  else
    value = j.get<T>();
}

}  // namespace

OnDivergence parse_on_divergence(const std::string& name) {
  if (name == "stop") return OnDivergence::Stop;
  if (name == "continue") return OnDivergence::Continue;
  throw UserError(fmt::format("--on-divergence: expected stop or continue, got '{}'", name));
}

const char* on_divergence_name(OnDivergence d) { return d == OnDivergence::Stop ? "stop" : "continue"; }

std::string setting_text(const Device& v) { return v.is_cuda() && v.index == 0 ? "cuda" : v.str(); }

void parse_setting(const std::string& text, Device& v) {
  try {
    v = Device::parse(text);
  } catch (const UserError& e) {
    throw UserError(fmt::format("--device: {}", e.what()));
  }
}

const TrainOption& train_option(const std::string& flag) {
  static const std::vector<TrainOption> options = [] {
    std::vector<TrainOption> all;
    TrainConfig c;
    for_each_train_option(c, [&](const TrainOption& o, auto&) { all.push_back(o); });
    return all;
  }();
  for (const TrainOption& o : options)
    if (o.name() == flag) return o;
  ELR_FAIL("train_option: `elrscope train` has no option {}", flag);
}

std::vector<int64_t> kept_checkpoint_steps(const TrainConfig& c) {
  std::string text = c.keep_checkpoints;
  for (char& ch : text)
    if (ch == ',') ch = ' ';
  std::istringstream in(text);
  std::set<int64_t> steps;
  for (std::string word; in >> word;) {
    int64_t step = -1;
    const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), step);
    if (ec != std::errc() || end != word.data() + word.size() || step < 0)
      throw UserError(fmt::format("--keep-checkpoints: '{}' is not a step (a whole number, 0 or more)", word));
    steps.insert(step);
  }
  return {steps.begin(), steps.end()};
}

std::string kept_checkpoint_path(const std::string& run_dir, int64_t step) {
  return fmt::format("{}/checkpoints/step-{}.safetensors", run_dir, step);
}

nlohmann::json config_to_json(const TrainConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  for_each_train_option(c, [&](const TrainOption& o, const auto& value) {
    if (o.key) j[o.key] = to_json_value(value);
  });
  j["width"] = c.model.width > 0 ? c.model.width : default_width(c.model.name);  // the width the model has
  j["momentum_convention"] = c.dampened_momentum
                                ? "dampened: v0 = (1 - momentum) * g0, v = momentum * v + (1 - momentum) * g, w -= lr * v"
                                : "pytorch: v0 = g0, v = momentum * v + g, w -= lr * v";
  return j;
}

TrainConfig config_from_json(const nlohmann::json& j, const std::string& source) {
  TrainConfig c;
  try {
    for_each_train_option(c, [&](const TrainOption& o, auto& value) {
      if (!o.key) return;                                    // not saved
      if (o.optional_in_json && !j.contains(o.key)) return;  // a config from before the option: the default
      from_json_value(j.at(o.key), value);
    });
    // uniform-elr runs from before --target-elr-rule held the step-0 target.
    if (!j.contains("target_elr_rule") && c.lr_control == LrControlKind::UniformElr && c.target_elr <= 0)
      c.target_elr_rule = TargetElrRule::Step0;
  } catch (const std::exception& e) {
    throw UserError(fmt::format("'{}' is not an elrscope run configuration: {}", source, e.what()));
  }
  return c;
}

void validate_train_config(const TrainConfig& c) {
  validate_model_config(c.model);
  validate_dataset_choice(c.dataset, c.data_dir);
  for_each_train_option(c, [](const TrainOption& o, const auto& value) { check_option_value(o, value); });
  if (c.steps == 0 && !(c.epochs > 0)) throw UserError(fmt::format("--epochs: must be positive, got {}", c.epochs));
  if (c.nesterov && c.momentum == 0) throw UserError("--nesterov: needs --momentum > 0");
  if (c.dampened_momentum && c.momentum == 0) throw UserError("--dampened-momentum: needs --momentum > 0");
  if (c.dampened_momentum && c.nesterov) throw UserError("--dampened-momentum: not with --nesterov");
  kept_checkpoint_steps(c);  // throws on bad text
  if (c.target_elr > 0 && c.lr_control != LrControlKind::UniformElr)
    throw UserError("--target-elr: only used with --lr-control uniform-elr");
  if (c.resume && c.out.empty()) throw UserError("--resume: needs the run directory");
  if (c.resume && c.overwrite) throw UserError("--overwrite: a resumed run keeps its files; it cannot overwrite them");
  if (c.target_elr_rule != TargetElrRule::Model && (c.lr_control != LrControlKind::UniformElr || c.target_elr > 0))
    throw UserError("--target-elr-rule: only used with --lr-control uniform-elr and no --target-elr");
  if (c.warmup_lr > 0 && c.warmup_steps == 0) throw UserError("--warmup-lr: needs --warmup N (the steps it lasts)");
  if (c.bn_recalibrate > 0 && !c.evaluate) throw UserError("--bn-recalibrate: only used with the test-set evaluation");
  if (c.tf32 && !c.device.is_cuda()) throw UserError("--tf32: only for --device cuda (the CPU computes in FP32)");
  if (c.sync_bn && c.device.is_cuda())
    throw UserError("--sync-bn: runs on the CPU only (the CUDA batch norm has no split statistics kernels yet)");
  if (c.sync_bn && c.bn_groups > 1) throw UserError("--bn-groups: contradicts --sync-bn (statistics over every rank)");
  if (c.batch % c.bn_groups != 0)
    throw UserError(fmt::format("--bn-groups: {} groups do not divide --batch {} into equal slices", c.bn_groups,
                                c.batch));
  std::string why;
  if (!start_device(c.device.type, &why))
    throw UserError(fmt::format("--device: {} is not available: {}", setting_text(c.device), why));
}

ScheduleConfig schedule_config(const TrainConfig& c, int64_t total_steps) {
  ScheduleConfig s;
  s.kind = c.schedule;
  s.lr = c.lr;
  s.total_steps = total_steps;
  s.warmup_steps = c.warmup_steps;
  s.warmup_lr = c.warmup_lr;
  return s;
}

LrControlConfig lr_control_config(const TrainConfig& c) {
  LrControlConfig l;
  l.kind = c.lr_control;
  l.target_elr = c.target_elr;
  l.target_rule = c.target_elr_rule;
  l.momentum = c.momentum;
  l.weight_decay = c.weight_decay;
  l.affine_lr_scale = c.affine_lr_scale;
  return l;
}

std::string trajectory_difference(const TrainConfig& a, const TrainConfig& b) {
  // Compared as config.json writes them: the width as built, named settings as words.
  const nlohmann::json ja = config_to_json(a), jb = config_to_json(b);
  std::string differs;
  for_each_train_option(a, [&](const TrainOption& o, const auto&) {
    if (differs.empty() && o.key && o.trajectory && ja.at(o.key) != jb.at(o.key)) differs = o.key;
  });
  return differs;
}

}  // namespace elr
