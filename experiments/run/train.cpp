#include "experiments/run/train.h"

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <ctime>
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
#include "experiments/run/run_logs.h"
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

}  // namespace

void recalibrate_batch_norm(Module& model, DataLoader& loader, int64_t batches, Device device) {
  autograd::NoGradGuard no_grad;
  model.train(true);
  for (int64_t b = 0; b < batches; ++b) model.forward(loader.next().images.to(device));
}

bool is_logged_step(int64_t step, int64_t log_every, int64_t total_steps) {
  if (step == total_steps - 1) return true;
  if (log_every > 0) return step % log_every == 0;
  return step < 200 || step % 10 == 0;
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
  const Device device = cfg.device;
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
  const ScheduleConfig sched = schedule_config(cfg, total);
  const LrControlConfig ctrl = lr_control_config(cfg);

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
    truncate_run_logs(result.run_dir, state.next_step);
  } else {
    write_json_atomic(result.run_dir + "/config.json", config_json);
  }
  LineWriter metrics(result.run_dir + "/metrics.jsonl", cfg.resume);
  LineWriter layers_csv(result.run_dir + "/layers.csv", cfg.resume);
  if (!cfg.resume) layers_csv.write_line(layers_csv_header());
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
      metrics.write_line(metrics_jsonl_line(metrics_row(r, spread, progress.elapsed_seconds())));
      for (size_t i = 0; i < r.layers.size(); ++i)
        layers_csv.write_line(layers_csv_line(layer_row(r.step, i, r.layers[i])));
    }
    result.steps = r.step + 1;
    result.final_loss = r.loss;
    progress.update(r.step + 1 - first_step, fmt::format("loss {:.4f} acc {:.3f} lr {:.3g} spread {:.3g}", r.loss,
                                                         batch_acc, r.global_lr, spread.spread));
    return !(result.diverged && cfg.on_divergence == OnDivergence::Stop);
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

  if (cfg.evaluate && !result.diverged) {
    if (cfg.bn_recalibrate > 0) {  // after the last checkpoint: the run's own statistics stay in it
      DataLoader batches(data.train, cfg.batch, cfg.seed + 1, true, augment, true, norm);
      recalibrate_batch_norm(*model, batches, cfg.bn_recalibrate, device);
    }
    result.test_accuracy = evaluate(*model, data.test, norm, 1000, device);
  }

  write_run_summary(result.run_dir + "/summary.json", run_summary(result, total));
  return result;
}

}  // namespace elr
