#include "experiments/run/train.h"

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>

#include "engine/autograd.h"
#include "engine/device_ops.h"
#include "engine/error.h"
#include "engine/files.h"
#include "engine/ops.h"
#include "experiments/data/data_loader.h"
#include "experiments/data/dataset.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/progress.h"
#include "optim/sgd.h"
#include "optim/train_step.h"

namespace elr {

namespace {

struct DataSets {
  Dataset train, test;
};

DataSets load_data(const TrainConfig& c) {
  const uint64_t synthetic_seed = c.seed + 1000003;
  DataSets d;
  d.train = load_named_dataset(c.dataset, c.data_dir, true, c.synthetic_size, synthetic_seed);
  if (c.evaluate) d.test = load_named_dataset(c.dataset, c.data_dir, false, c.synthetic_size, synthetic_seed);
  return d;
}

std::string default_run_dir(const TrainConfig& c) {
  std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&t));
  return fmt::format("runs/{}-{}-{}", c.model.name, c.model.depth, stamp);
}

const char* kLayersHeader =
    "step,layer,name,kind,scale_invariant,w2,g2,gw,v2,dw2,lr,elr,elr_classic,rel_update,numel";

std::string layer_row(int64_t step, size_t index, const LayerStats& l) {
  return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}", step, index, l.name, param_kind_name(l.kind),
                     l.scale_invariant ? 1 : 0, format_double(l.w2), format_double(l.g2), format_double(l.gw),
                     format_double(l.v2), format_double(l.dw2), format_double(l.lr),
                     l.scale_invariant ? format_double(l.elr()) : "", l.scale_invariant ? format_double(l.elr_classic()) : "",
                     format_double(l.rel_update()), l.numel);
}

nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// The first layer (in parameter order) with a non-finite statistic, or "" when all are finite.
std::string first_nonfinite_layer(const std::vector<LayerStats>& layers) {
  for (const LayerStats& l : layers)
    if (!std::isfinite(l.w2) || !std::isfinite(l.g2) || !std::isfinite(l.dw2)) return l.name;
  return "";
}

double evaluate(Module& model, const Dataset& test, const Normalization& norm, int64_t batch, Device device) {
  autograd::NoGradGuard no_grad;
  model.train(false);
  DataLoader loader(test, batch, 0, false, false, false, norm, false);
  int64_t correct = 0;
  for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
    Batch bt = loader.next();
    correct += ops::cross_entropy(model.forward(bt.images.to(device)), bt.labels.to(device)).correct_on_host();
  }
  model.train(true);
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

// Keeps the lines of a step-ordered log whose step is below `next_step` (the header too), and
// drops a partly written last line: what an uninterrupted run had written at that point.
void truncate_log(const std::string& path, int64_t next_step, bool csv) {
  std::ifstream in(path);
  if (!in) throw UserError(fmt::format("--resume: cannot read '{}'", path));
  std::string kept, line;
  bool first = true;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline: the line was cut short
    const bool header = csv && first;
    first = false;
    int64_t step = -1;
    if (!header) {
      try {
        step = csv ? std::stoll(line.substr(0, line.find(','))) : nlohmann::json::parse(line).at("step").get<int64_t>();
      } catch (const std::exception&) {
        throw UserError(fmt::format("--resume: '{}' has a malformed line: {}", path, line.substr(0, 80)));
      }
    }
    if (header || step < next_step) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

}  // namespace

bool is_logged_step(int64_t step, int64_t log_every, int64_t total_steps) {
  if (step == total_steps - 1) return true;
  if (log_every > 0) return step % log_every == 0;
  return step < 200 || step % 10 == 0;
}

nlohmann::json config_to_json(const TrainConfig& c) {
  return {
      {"model", c.model.name}, {"depth", c.model.depth}, {"width", c.model.width > 0 ? c.model.width : default_width(c.model.name)},
      {"dataset", c.dataset}, {"data_dir", c.data_dir}, {"synthetic_size", c.synthetic_size},
      {"batch", c.batch}, {"steps", c.steps}, {"epochs", c.epochs}, {"lr", c.lr}, {"momentum", c.momentum},
      {"nesterov", c.nesterov}, {"weight_decay", c.weight_decay}, {"schedule", c.schedule},
      {"warmup_steps", c.warmup_steps}, {"lr_control", c.lr_control}, {"target_elr", c.target_elr},
      {"seed", c.seed}, {"log_every", c.log_every}, {"device", c.device}, {"cuda_graph", c.cuda_graph}, {"tf32", c.tf32},
      {"threads", c.threads},
      {"augment", c.augment}, {"evaluate", c.evaluate}, {"on_divergence", c.on_divergence},
      {"checkpoint_every", c.checkpoint_every}, {"out", c.out},
      {"momentum_convention", "pytorch: v0 = g0, v = momentum * v + g, w -= lr * v"},
  };
}

TrainConfig config_from_json(const nlohmann::json& j, const std::string& source) {
  TrainConfig c;
  try {
    c.model.name = j.at("model").get<std::string>();
    c.model.depth = j.at("depth").get<int>();
    c.model.width = j.at("width").get<int>();
    c.dataset = j.at("dataset").get<std::string>();
    c.data_dir = j.at("data_dir").get<std::string>();
    c.synthetic_size = j.at("synthetic_size").get<int64_t>();
    c.batch = j.at("batch").get<int64_t>();
    c.steps = j.at("steps").get<int64_t>();
    c.epochs = j.at("epochs").get<double>();
    c.lr = j.at("lr").get<double>();
    c.momentum = j.at("momentum").get<double>();
    c.nesterov = j.at("nesterov").get<bool>();
    c.weight_decay = j.at("weight_decay").get<double>();
    c.schedule = j.at("schedule").get<std::string>();
    c.warmup_steps = j.at("warmup_steps").get<int64_t>();
    c.lr_control = j.at("lr_control").get<std::string>();
    c.target_elr = j.at("target_elr").get<double>();
    c.seed = j.at("seed").get<uint64_t>();
    c.log_every = j.at("log_every").get<int64_t>();
    c.device = j.at("device").get<std::string>();
    c.cuda_graph = j.value("cuda_graph", true);  // absent from configs written before the options
    c.tf32 = j.value("tf32", false);
    c.threads = j.at("threads").get<int>();
    c.augment = j.at("augment").get<int>();
    c.evaluate = j.at("evaluate").get<bool>();
    c.on_divergence = j.at("on_divergence").get<std::string>();
    c.checkpoint_every = j.at("checkpoint_every").get<int64_t>();
    c.out = j.at("out").get<std::string>();
  } catch (const std::exception& e) {
    throw UserError(fmt::format("'{}' is not an elrscope run configuration: {}", source, e.what()));
  }
  return c;
}

void validate_train_config(const TrainConfig& c) {
  validate_model_config(c.model);
  validate_dataset_choice(c.dataset, c.data_dir);
  if (c.batch < 2) throw UserError(fmt::format("--batch: must be at least 2 (batch norm), got {}", c.batch));
  if (c.steps < 0) throw UserError(fmt::format("--steps: must not be negative, got {}", c.steps));
  if (c.steps == 0 && !(c.epochs > 0)) throw UserError(fmt::format("--epochs: must be positive, got {}", c.epochs));
  if (!(c.lr > 0) || !std::isfinite(c.lr)) throw UserError(fmt::format("--lr: must be positive, got {}", c.lr));
  if (!(c.momentum >= 0 && c.momentum < 1)) throw UserError(fmt::format("--momentum: must be in [0, 1), got {}", c.momentum));
  if (c.nesterov && c.momentum == 0) throw UserError("--nesterov: needs --momentum > 0");
  if (!(c.weight_decay >= 0)) throw UserError(fmt::format("--wd: must not be negative, got {}", c.weight_decay));
  if (c.warmup_steps < 0) throw UserError(fmt::format("--warmup: must not be negative, got {}", c.warmup_steps));
  if (c.schedule != "constant" && c.schedule != "step" && c.schedule != "cosine")
    throw UserError(fmt::format("--schedule: unknown schedule '{}' (expected constant, step or cosine)", c.schedule));
  parse_lr_control(c.lr_control);
  if (c.target_elr < 0) throw UserError(fmt::format("--target-elr: must not be negative, got {}", c.target_elr));
  if (c.target_elr > 0 && c.lr_control != "uniform-elr") throw UserError("--target-elr: only used with --lr-control uniform-elr");
  if (c.log_every < 0) throw UserError(fmt::format("--log-every: must not be negative, got {}", c.log_every));
  if (c.threads < 0) throw UserError(fmt::format("--threads: must not be negative, got {}", c.threads));
  if (c.on_divergence != "stop" && c.on_divergence != "continue")
    throw UserError(fmt::format("--on-divergence: expected stop or continue, got '{}'", c.on_divergence));
  if (c.checkpoint_every < 0) throw UserError(fmt::format("--checkpoint-every: must not be negative, got {}", c.checkpoint_every));
  if (c.synthetic_size < 4) throw UserError(fmt::format("--synthetic-size: must be at least 4, got {}", c.synthetic_size));
  Device d = Device::parse(c.device);
  if (c.tf32 && !d.is_cuda()) throw UserError("--tf32: only for --device cuda (the CPU computes in FP32)");
  std::string why;
  if (!start_device(d.type, &why)) throw UserError(fmt::format("--device: {} is not available: {}", c.device, why));
}

TrainResult train(const TrainConfig& cfg, const StepHook& hook) {
  validate_train_config(cfg);
  if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
  TrainResult result;
  result.run_dir = cfg.out.empty() ? default_run_dir(cfg) : cfg.out;
  make_directories(result.run_dir);

  DataSets data = load_data(cfg);
  ModelConfig mc = cfg.model;
  mc.in_channels = data.train.channels;
  mc.image_size = data.train.height;
  mc.classes = data.train.classes;
  const Device device = Device::parse(cfg.device);
  std::shared_ptr<Module> model = build_model(mc);
  model->reset_parameters(cfg.seed);  // on the host: the same draws for every device
  model->to(device);
  if (device.is_cuda()) cuda_ops().set_conv_tf32(cfg.tf32);

  const Normalization norm = channel_normalization(data.train);
  const bool augment = cfg.augment < 0 ? (cfg.dataset == "cifar10" || cfg.dataset == "cifar100") : cfg.augment > 0;
  if (data.train.size() < cfg.batch)
    throw UserError(fmt::format("--batch: {} is larger than the training set ({} images)", cfg.batch, data.train.size()));
  DataLoader loader(data.train, cfg.batch, cfg.seed, true, augment, true, norm);
  const int64_t total = cfg.steps > 0 ? cfg.steps
                                      : std::max<int64_t>(1, std::llround(cfg.epochs * loader.batches_per_epoch()));

  nlohmann::json config_json = config_to_json(cfg);
  config_json["out"] = result.run_dir;
  config_json["model_description"] = describe_model(mc);
  config_json["total_steps"] = total;
  config_json["batches_per_epoch"] = loader.batches_per_epoch();
  config_json["train_images"] = data.train.size();
  config_json["git_revision"] = git_revision();
  nlohmann::json params = nlohmann::json::array();
  std::vector<Parameter*> plist = model->parameters();
  for (const Parameter* p : plist)
    params.push_back({{"name", p->name}, {"kind", param_kind_name(p->kind)}, {"scale_invariant", p->scale_invariant},
                      {"shape", p->value.shape()}, {"numel", p->value.numel()}});
  config_json["parameters"] = params;

  Sgd sgd(plist, SgdConfig{cfg.momentum, cfg.weight_decay, cfg.nesterov});
  ScheduleConfig sched;
  sched.kind = cfg.schedule;
  sched.lr = cfg.lr;
  sched.total_steps = total;
  sched.warmup_steps = cfg.warmup_steps;
  LrControlConfig ctrl;
  ctrl.kind = parse_lr_control(cfg.lr_control);
  ctrl.target_elr = cfg.target_elr;

  const std::string checkpoint_path = result.run_dir + "/" + kCheckpointFile;
  TrainState state;
  double reference_elr = ctrl.target_elr;
  if (cfg.resume) {
    state = load_checkpoint(checkpoint_path, *model, sgd);
    if (state.next_step > total)
      throw UserError(fmt::format("--resume: checkpoint '{}' is at step {}, past the run's {} steps", checkpoint_path,
                                  state.next_step, total));
    reference_elr = state.reference_elr;
    loader.seek(state.data_epoch, state.data_index);
    truncate_log(result.run_dir + "/metrics.jsonl", state.next_step, false);
    truncate_log(result.run_dir + "/layers.csv", state.next_step, true);
  } else {
    write_json_atomic(result.run_dir + "/config.json", config_json);
  }
  LineWriter metrics(result.run_dir + "/metrics.jsonl", cfg.resume);
  LineWriter layers_csv(result.run_dir + "/layers.csv", cfg.resume);
  if (!cfg.resume) layers_csv.write_line(kLayersHeader);
  CudaStepOptions cuda_options;
  cuda_options.cuda_graph = cfg.cuda_graph;
  const Shape image_shape = {cfg.batch, data.train.channels, data.train.height, data.train.width};
  // The CPU-or-device choice, once: the step for the device the model is on.
  const std::unique_ptr<TrainStep> train_step =
      make_train_step(*model, sgd, sched, ctrl, reference_elr, image_shape, cuda_options);

  auto checkpoint = [&](int64_t next_step) {
    state.next_step = next_step;
    state.data_epoch = loader.next_epoch();
    state.data_index = loader.next_index();
    state.reference_elr = train_step->reference_elr();
    save_checkpoint(checkpoint_path, *model, sgd, state, config_json);
  };

  const int64_t first_step = state.next_step;
  result.steps = first_step;
  Progress progress(total - first_step, cfg.progress);
  // Logs one finished step; returns false when the run must stop (divergence with "stop").
  auto consume = [&](const StepRecord& r) {
    const SpreadStats spread = summarize_spread(r.layers);
    state.correct += r.correct;
    state.seen += r.batch_size;
    const double batch_acc = static_cast<double>(r.correct) / r.batch_size;
    if (hook) hook(r.step, r.loss, r.layers);

    std::string bad = first_nonfinite_layer(r.layers);
    if (bad.empty() && !std::isfinite(r.loss)) bad = "the loss";
    if (!bad.empty() && !result.diverged) {
      result.diverged = true;
      result.diverged_step = r.step;
      result.divergence = fmt::format("non-finite values at step {}: first affected: {}", r.step, bad);
    }
    if (is_logged_step(r.step, cfg.log_every, total) || (result.diverged && result.diverged_step == r.step)) {
      nlohmann::json m = {{"step", r.step},
                          {"epoch", r.epoch},
                          {"loss", json_number(r.loss)},
                          {"accuracy", batch_acc},
                          {"lr", json_number(r.global_lr)},
                          {"spread", json_number(spread.spread)},
                          {"log10_std", json_number(spread.log10_std)},
                          {"first_last", json_number(spread.first_last)},
                          {"elr_min", json_number(spread.elr_min)},
                          {"elr_max", json_number(spread.elr_max)},
                          {"critical_lr", json_number(spread.critical_lr)},
                          {"si_layers", spread.layers},
                          {"zero_elr_layers", spread.zero_layers},
                          {"elapsed_s", progress.elapsed_seconds()}};
      metrics.write_line(m.dump());
      for (size_t i = 0; i < r.layers.size(); ++i) layers_csv.write_line(layer_row(r.step, i, r.layers[i]));
    }
    result.steps = r.step + 1;
    result.final_loss = r.loss;
    progress.update(r.step + 1 - first_step, fmt::format("loss {:.4f} acc {:.3f} lr {:.3g} spread {:.3g}", r.loss,
                                                         batch_acc, r.global_lr, spread.spread));
    return !(result.diverged && cfg.on_divergence == "stop");
  };

  for (int64_t step = state.next_step; step < total; ++step) {
    Batch batch = loader.next();
    const bool checkpoint_due = cfg.checkpoint_every > 0 && (step + 1) % cfg.checkpoint_every == 0 && step + 1 < total;
    train_step->enqueue(batch);
    // On a device the records come every few steps; all of them before a checkpoint and at the end.
    const std::vector<StepRecord> records = train_step->take_records(checkpoint_due || step + 1 == total);
    bool go_on = true;
    for (const StepRecord& r : records)
      if (go_on) go_on = consume(r);
    if (!go_on) break;
    if (!result.diverged && checkpoint_due) checkpoint(step + 1);
  }
  result.step_mode = train_step->mode();
  result.cuda_graph_note = train_step->graph_note();
  if (cfg.cuda_graph && result.step_mode == "cuda eager")
    std::fprintf(stderr, "elrscope: the step ran without a CUDA graph: %s\n", result.cuda_graph_note.c_str());
  if (!result.diverged) checkpoint(result.steps);
  progress.finish();
  result.seconds = progress.elapsed_seconds();
  result.steps_per_second = result.steps / std::max(result.seconds, 1e-9);
  result.train_accuracy = state.seen ? static_cast<double>(state.correct) / state.seen : 0;
  if (result.diverged) std::fprintf(stderr, "elrscope: diverged: %s\n", result.divergence.c_str());

  if (cfg.evaluate && !result.diverged) result.test_accuracy = evaluate(*model, data.test, norm, 1000, device);

  nlohmann::json summary = {{"steps", result.steps},
                            {"total_steps", total},
                            {"final_loss", json_number(result.final_loss)},
                            {"train_accuracy", result.train_accuracy},
                            {"test_accuracy", result.test_accuracy >= 0 ? nlohmann::json(result.test_accuracy) : nlohmann::json(nullptr)},
                            {"diverged", result.diverged},
                            {"diverged_step", result.diverged_step},
                            {"divergence", result.divergence},
                            {"seconds", result.seconds},
                            {"steps_per_second", result.steps_per_second},
                            {"step_mode", result.step_mode},
                            {"cuda_graph_note", result.cuda_graph_note}};
  write_json_atomic(result.run_dir + "/summary.json", summary);
  return result;
}

}  // namespace elr
