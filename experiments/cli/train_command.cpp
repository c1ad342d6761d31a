#include "experiments/cli/train_command.h"

#include <cstdio>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/cli/commands.h"

namespace elr {

void add_train_options(CLI::App& app, TrainConfig& c) {
  app.add_option("--model", c.model.name, "plain | resnet | resnet-noshort | vgg")->capture_default_str();
  app.add_option("--depth", c.model.depth, "layers: plain 3..200, resnet 6n+2 (20 32 56 110), vgg 11 or 16")
      ->capture_default_str();
  app.add_option("--width", c.model.width, "channels: plain (default 32), resnet first stage (16), vgg first block (64)");
  app.add_option("--dataset", c.dataset, "fashion-mnist | cifar10 | cifar100 | synthetic")->capture_default_str();
  app.add_option("--data-dir", c.data_dir,
                 "folder of the data set files (fashion-mnist default: /usr/share/datasets/fashion-mnist or "
                 "$ELR_FASHION_MNIST_DIR)");
  app.add_option("--synthetic-size", c.synthetic_size, "training images of the synthetic set")->capture_default_str();
  app.add_option("--batch", c.batch, "batch size")->capture_default_str();
  auto* steps = app.add_option("--steps", c.steps, "number of steps (overrides --epochs)");
  app.add_option("--epochs", c.epochs, "number of epochs (fractions allowed)")->capture_default_str()->excludes(steps);
  app.add_option("--lr", c.lr, "base learning rate")->capture_default_str();
  app.add_option("--momentum", c.momentum, "heavy-ball momentum (PyTorch convention)")->capture_default_str();
  app.add_flag("--nesterov", c.nesterov, "Nesterov momentum");
  app.add_option("--wd", c.weight_decay, "weight decay (L2, added to the gradient)")->capture_default_str();
  app.add_option("--schedule", c.schedule, "constant | step (x0.1 at 50% and 75%) | cosine")->capture_default_str();
  app.add_option("--warmup", c.warmup_steps, "linear warm-up steps")->capture_default_str();
  app.add_option("--lr-control", c.lr_control,
                 "none | critical-warmup (lr = min(schedule, 1/sqrt(e_max e_min))) | uniform-elr (per-layer lr = "
                 "target ELR / e) | lars (trust ratio)")
      ->capture_default_str();
  app.add_option("--target-elr", c.target_elr,
                 "uniform-elr target (0: lr x the median layer's e at step 0)")
      ->capture_default_str();
  app.add_option("--seed", c.seed, "seed of initialization, data order and augmentation")->capture_default_str();
  app.add_option("--log-every", c.log_every,
                 "write metrics and layer rows every N steps (0: every step for 200 steps, then every 10)")
      ->capture_default_str();
  app.add_option("--out", c.out, "run directory (default runs/<model>-<depth>-<time>)");
  app.add_option("--device", c.device, "cpu (cuda in CUDA builds)")->capture_default_str();
  app.add_flag("--tf32", c.tf32, "cuda: conv and linear GEMMs on TF32 tensor cores (sm_80+; default FP32)");
  app.add_flag("!--no-cuda-graph", c.cuda_graph,
               "cuda: run every step eagerly instead of replaying it as a CUDA graph");
  app.add_option("--threads", c.threads, "CPU threads (0: all cores)")->capture_default_str();
  app.add_option("--augment", c.augment, "crop and flip: 1 on, 0 off, -1 on for CIFAR only")->capture_default_str();
  app.add_option("--on-divergence", c.on_divergence, "stop | continue when a loss or norm is not finite")
      ->capture_default_str();
  app.add_option("--checkpoint-every", c.checkpoint_every,
                 "write RUN/checkpoint.safetensors every N steps (always at the end)")
      ->capture_default_str();
  app.add_flag("!--no-eval", c.evaluate, "skip the test-set evaluation");
  app.add_flag("!--quiet", c.progress, "no progress line");
  app.footer(
      "Outputs (docs/outputs.md defines every column):\n"
      "  RUN/config.json    every setting, the model's parameters with their kinds, git revision\n"
      "  RUN/metrics.jsonl  one line per logged step: loss, batch accuracy, lr, ELR spread statistics\n"
      "  RUN/layers.csv     one row per logged step and parameter tensor: |W|^2 |g|^2 <g,W> |v|^2 |dW|^2 lr ELR\n"
      "  RUN/summary.json   steps, final loss, test accuracy, divergence, time\n"
      "  RUN/checkpoint.safetensors  weights, BN statistics, momentum buffers and training state\n"
      "Exit codes: 0 done, 2 bad input, 3 diverged (with --on-divergence stop), 1 internal error.");
}

void print_train_result(const TrainConfig& cfg, const TrainResult& r) {
  std::printf("run directory: %s\n", r.run_dir.c_str());
  std::printf("steps: %lld in %.1f s (%.2f steps/s), final loss %.4f, train accuracy %.4f\n",
              static_cast<long long>(r.steps), r.seconds, r.steps_per_second, r.final_loss, r.train_accuracy);
  if (r.diverged) std::printf("diverged: %s\n", r.divergence.c_str());
  if (r.test_accuracy >= 0) std::printf("test accuracy: %.4f\n", r.test_accuracy);
}

int run_train_command(const TrainConfig& cfg) {
  TrainResult r = train(cfg);
  print_train_result(cfg, r);
  return r.diverged && cfg.on_divergence == "stop" ? 3 : 0;
}

Command register_train_command(CLI::App& parent) {
  auto cfg = std::make_shared<TrainConfig>();
  auto resume_dir = std::make_shared<std::string>();
  CLI::App* app = parent.add_subcommand("train", "train a BN network and log every layer's ELR every step");
  add_train_options(*app, *cfg);
  app->add_option("--resume", *resume_dir,
                  "continue the run in RUN_DIR from its last checkpoint, with the settings of its config.json "
                  "(only --threads and --quiet may be given too)");
  return {app, [cfg, resume_dir, app] {
            if (resume_dir->empty()) return run_train_command(*cfg);
            for (const CLI::Option* opt : app->get_options()) {
              const std::string name = opt->get_name();
              if (opt->count() > 0 && name != "--resume" && name != "--threads" && name != "--quiet")
                throw UserError(fmt::format(
                    "--resume: cannot be combined with {} (a resumed run keeps the settings of its config.json)", name));
            }
            const std::string config_path = *resume_dir + "/config.json";
            if (!path_exists(config_path))
              throw UserError(fmt::format("--resume: '{}' is not a run directory (no config.json)", *resume_dir));
            TrainConfig resumed = config_from_json(read_json(config_path), config_path);
            resumed.out = *resume_dir;
            resumed.resume = true;
            resumed.threads = cfg->threads;
            resumed.progress = cfg->progress;
            return run_train_command(resumed);
          }};
}

}  // namespace elr
