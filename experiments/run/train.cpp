#include "experiments/run/train.h"

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>

#include "engine/autograd.h"
#include "engine/comm.h"
#include "engine/device_collectives.h"
#include "engine/device_ops.h"
#include "engine/error.h"
#include "engine/files.h"
#include "engine/ops.h"
#include "experiments/data/data_loader.h"
#include "experiments/data/dataset.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/interrupt.h"
#include "experiments/run/progress.h"
#include "experiments/run/run_dir.h"
#include "experiments/run/run_lock.h"
#include "experiments/run/run_logs.h"
#include "experiments/run/run_ranks.h"
#include "layers/layers.h"
#include "optim/data_parallel.h"
#include "optim/sgd.h"
#include "optim/train_step.h"

namespace elr {

namespace {

struct DataSets {
  Dataset train, test;
};

uint64_t synthetic_seed(const TrainConfig& c) { return c.seed + 1000003; }

DataSets load_data(const TrainConfig& c) {
  DataSets d;
  d.train = load_training_set(c);
  if (c.evaluate)
    d.test = load_named_dataset(c.dataset, c.data_dir, false, c.synthetic_size, synthetic_seed(c), c.image_folder);
  return d;
}

// More threads than processors only slow the run down: its results do not depend on the count.
void use_threads(int threads) {
  if (threads <= 0) return;
  omp_set_num_threads(threads);
  if (threads > omp_get_num_procs())
    std::fprintf(stderr,
                 "elrscope: --threads %d is more than the %d processors here: the run will be slower (its results do "
                 "not depend on the thread count)\n",
                 threads, omp_get_num_procs());
}

// The first layer (in parameter order) with a non-finite statistic, or "" when all are finite.
std::string first_nonfinite_layer(const std::vector<LayerStats>& layers) {
  for (const LayerStats& l : layers)
    if (!std::isfinite(l.w2) || !std::isfinite(l.g2) || !std::isfinite(l.dw2)) return l.name;
  return "";
}

// Why step `r` counts as a divergence, or "" when it does not.
std::string divergence_of(const StepRecord& r, double divergence_loss) {
  std::string bad = first_nonfinite_layer(r.layers);
  if (bad.empty() && !std::isfinite(r.loss)) bad = "the loss";
  if (!bad.empty()) return fmt::format("non-finite values at step {}: first affected: {}", r.step, bad);
  if (r.loss > divergence_loss)
    return fmt::format("loss {:.6g} at step {} is above the divergence threshold {:.6g} (--divergence-loss)", r.loss,
                       r.step, divergence_loss);
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

// --resume of a run that has ended: what its summary says, and nothing done.
TrainResult already_finished(const std::string& dir, const RunSummary& s) {
  TrainResult r;
  r.run_dir = dir;
  r.already_finished = true;
  r.steps = s.steps;
  r.final_loss = s.final_loss;
  r.train_accuracy = s.train_accuracy;
  r.test_accuracy = std::isnan(s.test_accuracy) ? -1 : s.test_accuracy;
  r.diverged = s.diverged;
  r.diverged_step = s.diverged_step;
  r.divergence = s.divergence;
  r.step_mode = s.step_mode;
  r.cuda_graph_note = s.cuda_graph_note;
  return r;
}

// Records in config.json that the run now has `total` steps, and says what that does to the schedule.
void extend_run(nlohmann::json& config, const std::string& dir, const ScheduleConfig& schedule, int64_t from_step,
                int64_t planned) {
  const int64_t total = schedule.total_steps;
  config["steps"] = total;
  config["total_steps"] = total;
  config["extensions"].push_back({{"at_step", from_step},
                                  {"total_steps_before", planned},
                                  {"total_steps", total},
                                  {"git_revision", git_revision()}});
  write_json_atomic(dir + "/config.json", config);
  ScheduleConfig before = schedule;
  before.total_steps = planned;
  std::fprintf(stderr,
               "elrscope: extending the run in '%s' from %lld to %lld steps (recorded in config.json): the %s schedule "
               "now spans %lld steps, so step %lld runs at lr %.6g (step %lld of the planned run: %.6g)\n",
               dir.c_str(), static_cast<long long>(planned), static_cast<long long>(total),
               schedule_kind_name(schedule.kind), static_cast<long long>(total), static_cast<long long>(from_step),
               scheduled_lr(schedule, from_step), static_cast<long long>(planned - 1),
               scheduled_lr(before, planned - 1));
}

}  // namespace

Dataset load_training_set(const TrainConfig& c) {
  return load_named_dataset(c.dataset, c.data_dir, true, c.synthetic_size, synthetic_seed(c), c.image_folder);
}

ModelConfig run_model_config(const TrainConfig& c, const Dataset& train) {
  ModelConfig mc = c.model;
  mc.in_channels = train.channels;
  mc.image_size = train.height;
  mc.classes = train.classes;
  return mc;
}

bool run_augments(const TrainConfig& c) { return c.augment < 0 ? augmented_by_default(c.dataset) : c.augment > 0; }

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
  // Several ranks (docs/scale.md): every rank runs the steps on its share of each global batch;
  // rank 0 alone writes the run folder. A setting or file error is agreed on, so that every rank
  // stops and only the rank that met it reports it.
  Communicator& ranks = world();
  const bool root = ranks.is_root();
  run_on_all_ranks(ranks, [&] {
    validate_train_config(cfg);
    check_rank_layout(cfg, ranks.size());
  });
  check_same_settings(ranks, cfg);
  use_threads(cfg.threads);
  // Each rank's GPU and the NCCL communicator, before anything is on the device.
  std::unique_ptr<DeviceCollectives> collectives;
  if (ranks.size() > 1 && cfg.device.is_cuda()) collectives = make_device_collectives(ranks);

  DataSets data;
  run_on_all_ranks(ranks, [&] {
    PhaseLine line("loading " + cfg.dataset, cfg.progress && root);
    data = load_data(cfg);
    if (data.train.size() < cfg.batch)
      throw UserError(
          fmt::format("--batch: {} is larger than the training set ({} images)", cfg.batch, data.train.size()));
  });
  const ModelConfig mc = run_model_config(cfg, data.train);
  const Device device = cfg.device;
  std::shared_ptr<Module> model = build_model(mc);
  model->reset_parameters(cfg.seed);  // on the host: the same draws for every device
  model->to(device);
  if (device.is_cuda()) cuda_ops().set_conv_tf32(cfg.tf32);
  set_batch_norm_statistics(*model, cfg.bn_groups, cfg.sync_bn ? &ranks : nullptr);

  const Normalization norm = channel_normalization(data.train);
  const bool augment = run_augments(cfg);
  // Every rank reads the same global batches (the 1-process run's order) and takes its share of each.
  DataLoader loader(data.train, cfg.batch, cfg.seed, true, augment, true, norm);
  const int64_t total = cfg.steps > 0 ? cfg.steps
                                      : std::max<int64_t>(1, std::llround(cfg.epochs * loader.batches_per_epoch()));
  run_on_all_ranks(ranks, [&] {
    if (cfg.warmup_steps > total)
      throw UserError(fmt::format("--warmup: {} steps is longer than the run ({} steps)", cfg.warmup_steps, total));
  });
  const double divergence_loss =
      cfg.divergence_loss > 0 ? cfg.divergence_loss : kDivergenceLossFactor * std::log(static_cast<double>(mc.classes));

  // Rank 0 claims the folder and, on --resume, finds out what is left to do.
  TrainResult result;
  std::unique_ptr<RunLock> lock;
  ResumePlan plan;
  run_on_all_ranks(ranks, [&] {
    if (!root) return;
    result.run_dir = cfg.out.empty() ? create_default_run_dir(mc.name, mc.depth) : cfg.out;
    make_directories(result.run_dir);
    lock = std::make_unique<RunLock>(result.run_dir);
    if (cfg.resume) {
      plan = plan_resume(result.run_dir, total);
      check_resume_world_size(plan.config, result.run_dir, ranks.size());
    } else {
      clear_for_new_run(result.run_dir, cfg.overwrite);
    }
  });
  result.run_dir = broadcast_string(ranks, result.run_dir);
  ranks.broadcast(&plan.kind, sizeof plan.kind, 0);
  const std::string& dir = result.run_dir;

  std::vector<Parameter*> plist = model->parameters();
  Sgd sgd(plist, SgdConfig{cfg.momentum, cfg.weight_decay, cfg.nesterov, cfg.dampened_momentum});
  const ScheduleConfig sched = schedule_config(cfg, total);
  const LrControlConfig ctrl = lr_control_config(cfg);
  const std::vector<int64_t> keep_list = kept_checkpoint_steps(cfg);
  const std::set<int64_t> keep(keep_list.begin(), keep_list.end());

  // A new run starts from step 0 in a folder of its own; --resume continues from the checkpoint,
  // which every rank loads.
  const std::string checkpoint_path = dir + "/" + kCheckpointFile;
  TrainState state;
  double reference_elr = ctrl.target_elr;
  nlohmann::json config_json;
  bool continuing = false;
  if (cfg.resume) {
    if (plan.kind == ResumePlan::Kind::Finished) return already_finished(dir, plan.summary);
    if (plan.kind == ResumePlan::Kind::Restart && root)
      std::fprintf(stderr,
                   "elrscope: '%s' has no checkpoint (the run stopped before its first one): it starts again from "
                   "step 0\n",
                   dir.c_str());
    if (plan.kind == ResumePlan::Kind::Continue) {
      run_on_all_ranks(ranks, [&] {
        state = load_checkpoint(checkpoint_path, *model, sgd, &cfg);
        if (state.next_step > total)
          throw UserError(fmt::format("--resume: checkpoint '{}' is at step {}, past the run's {} steps",
                                      checkpoint_path, state.next_step, total));
      });
      reference_elr = state.reference_elr;
      loader.seek(state.data_epoch, state.data_index);
      continuing = true;
    }
  }
  run_on_all_ranks(ranks, [&] {
    if (!root) return;
    if (continuing) {
      truncate_run_logs(dir, state.next_step);
      config_json = plan.config;
      if (total != plan.planned_steps) extend_run(config_json, dir, sched, state.next_step, plan.planned_steps);
    } else {
      config_json = config_to_json(cfg);
      config_json["out"] = dir;
      config_json["world_size"] = ranks.size();
      config_json["model_description"] = describe_model(mc);
      config_json["total_steps"] = total;
      config_json["batches_per_epoch"] = loader.batches_per_epoch();
      config_json["train_images"] = data.train.size();
      config_json["divergence_threshold"] = divergence_loss;
      config_json["git_revision"] = git_revision();
      nlohmann::json params = nlohmann::json::array();
      for (const Parameter* p : plist)
        params.push_back({{"name", p->name}, {"kind", param_kind_name(p->kind)},
                          {"scale_invariant", p->scale_invariant}, {"shape", p->value.shape()},
                          {"numel", p->value.numel()}});
      config_json["parameters"] = params;
      write_json_atomic(dir + "/config.json", config_json);
    }
    // summary.json says how the last process that ran the run ended; this one has not.
    std::remove((dir + "/summary.json").c_str());
  });

  int64_t checkpointed = continuing ? state.next_step : -1;  // the step of the last good checkpoint
  const int64_t first_step = state.next_step;
  result.steps = first_step;
  result.final_loss = state.last_loss;
  try {
    std::optional<LineWriter> metrics, layers_csv;  // rank 0's
    if (root) {
      metrics.emplace(dir + "/metrics.jsonl", continuing);
      layers_csv.emplace(dir + "/layers.csv", continuing);
      if (!continuing) layers_csv->write_line(layers_csv_header());
    }
    CudaStepOptions cuda_options;
    cuda_options.cuda_graph = cfg.cuda_graph;
    cuda_options.collectives = collectives.get();
    const Shape image_shape = {cfg.batch / ranks.size(), data.train.channels, data.train.height, data.train.width};
    // The CPU-or-device choice, once: the step for the device the model is on.
    const std::unique_ptr<TrainStep> train_step =
        make_train_step(*model, sgd, sched, ctrl, reference_elr, image_shape, cuda_options, &ranks);

    auto save_state = [&](int64_t next_step, const std::string& path) {
      state.next_step = next_step;
      state.data_epoch = loader.next_epoch();
      state.data_index = loader.next_index();
      state.reference_elr = train_step->reference_elr();
      state.last_loss = result.final_loss;
      if (root) save_checkpoint(path, *model, sgd, state, config_json);
    };
    auto checkpoint = [&](int64_t next_step) {
      save_state(next_step, checkpoint_path);
      checkpointed = next_step;
    };
    // --keep-checkpoints: the state before step `next_step`, kept for studies that start from it.
    auto keep_state = [&](int64_t next_step) {
      const std::string path = kept_checkpoint_path(dir, next_step);
      if (root) make_directories(path.substr(0, path.find_last_of('/')));
      save_state(next_step, path);
    };
    if (keep.count(first_step)) keep_state(first_step);

    Progress progress(total - first_step, cfg.progress && root);
    // Logs one finished step; returns false when the run must stop (divergence with "stop").
    auto consume = [&](const StepRecord& r) {
      const SpreadStats spread = summarize_spread(r.layers);
      state.correct += r.correct;
      state.seen += r.batch_size;
      const double batch_acc = static_cast<double>(r.correct) / r.batch_size;
      if (hook) hook(r.step, r.loss, r.layers);

      if (!result.diverged) {
        result.divergence = divergence_of(r, divergence_loss);
        result.diverged = !result.divergence.empty();
        if (result.diverged) result.diverged_step = r.step;
      }
      if (root &&
          (is_logged_step(r.step, cfg.log_every, total) || (result.diverged && result.diverged_step == r.step))) {
        metrics->write_line(metrics_jsonl_line(metrics_row(r, spread, progress.elapsed_seconds())));
        for (size_t i = 0; i < r.layers.size(); ++i)
          layers_csv->write_line(layers_csv_line(layer_row(r.step, i, r.layers[i])));
      }
      result.steps = r.step + 1;
      result.final_loss = r.loss;
      progress.update(r.step + 1 - first_step, fmt::format("loss {:.4f} acc {:.3f} lr {:.3g} spread {:.3g}", r.loss,
                                                           batch_acc, r.global_lr, spread.spread));
      return !(result.diverged && cfg.on_divergence == OnDivergence::Stop);
    };

    const InterruptCatcher interrupts;  // from here to the end, a signal only asks the loop to stop
    bool go_on = true;
    int stop_signal = 0;  // a signal to any rank stops every rank before the same step
    for (int64_t step = state.next_step; step < total && go_on; ++step) {
      stop_signal = agreed_stop_signal(ranks, interrupts.signal());
      if (stop_signal) break;
      Batch batch = loader.next();
      if (ranks.size() > 1) batch = rank_share(batch, ranks.rank(), ranks.size());
      const bool last = step + 1 == total;
      const bool checkpoint_due = cfg.checkpoint_every > 0 && (step + 1) % cfg.checkpoint_every == 0 && !last;
      const bool keep_due = keep.count(step + 1) > 0;
      train_step->enqueue(batch);
      // On a device the records come every few steps; all of them before a checkpoint and at the end.
      for (const StepRecord& r : train_step->take_records(checkpoint_due || keep_due || last))
        if (go_on) go_on = consume(r);
      if (go_on && !result.diverged && checkpoint_due) checkpoint(step + 1);
      if (go_on && !result.diverged && keep_due) keep_state(step + 1);
    }
    if (go_on && stop_signal && result.steps < total) {
      // The steps still on the device reach the logs before the checkpoint.
      for (const StepRecord& r : train_step->take_records(true))
        if (go_on) go_on = consume(r);
      if (go_on) result.interrupted_by = stop_signal;
    }
    result.step_mode = train_step->mode();
    result.cuda_graph_note = train_step->graph_note();
    if (cfg.cuda_graph && result.step_mode == "cuda eager" && root)
      std::fprintf(stderr, "elrscope: the step ran without a CUDA graph: %s\n", result.cuda_graph_note.c_str());
    run_on_all_ranks(ranks, [&] {
      if (!result.diverged) checkpoint(result.steps);
    });
    progress.finish();
    result.first_step = first_step;
    result.seconds = progress.elapsed_seconds();
    result.steps_per_second = (result.steps - first_step) / std::max(result.seconds, 1e-9);
    result.train_accuracy = state.seen ? static_cast<double>(state.correct) / state.seen : 0;
    if (result.diverged && root) std::fprintf(stderr, "elrscope: diverged: %s\n", result.divergence.c_str());

    // Every rank has the same weights: rank 0 evaluates them and writes the summary while the others
    // wait (a launcher ends every rank as soon as one has ended with an error code, e.g. 143).
    run_on_all_ranks(ranks, [&] {
      if (!root) return;
      if (cfg.evaluate && !result.diverged && !result.interrupted_by) {
        PhaseLine line("evaluating on the test set", cfg.progress);
        if (cfg.bn_recalibrate > 0) {  // after the last checkpoint: the run's own statistics stay in it
          DataLoader batches(data.train, cfg.batch, cfg.seed + 1, true, augment, true, norm);
          recalibrate_batch_norm(*model, batches, cfg.bn_recalibrate, device);
        }
        result.test_accuracy = evaluate(*model, data.test, norm, 1000, device);
      }
      write_run_summary(dir + "/summary.json", run_summary(result, total));
    });
  } catch (const WriteError& e) {
    throw WriteError(fmt::format(
        "{}; the run stopped after {} steps, {}", e.what(), result.steps,
        checkpointed >= 0
            ? fmt::format("and its checkpoint of step {} is intact: make room, then `elrscope train --resume {}`",
                          checkpointed, dir)
            : fmt::format("before its first checkpoint: `elrscope train --resume {}` starts it again", dir)));
  }
  return result;
}

}  // namespace elr
