// The settings of `elrscope train` (TrainConfig) and the one list of its options, from which the
// command line (experiments/cli/train_command.h), config.json both ways and validation are built.
// Named settings (schedule, lr control, on-divergence, device) are parsed from their words once,
// on the command line or when config.json is read.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/device.h"
#include "engine/error.h"
#include "experiments/data/dataset.h"
#include "layers/models.h"
#include "optim/lr_control.h"

namespace elr {

enum class OnDivergence { Stop, Continue };
OnDivergence parse_on_divergence(const std::string& name);  // stop | continue
const char* on_divergence_name(OnDivergence d);

// Steps between checkpoints unless --checkpoint-every says otherwise (docs/outputs.md: why steps).
constexpr int64_t kDefaultCheckpointEvery = 200;
// The default divergence threshold is this many times the loss of a uniform guess, ln(classes).
constexpr double kDivergenceLossFactor = 10;
// Above this, --synthetic-size asks for more memory than a synthetic set is meant to take (256 MB).
constexpr int64_t kMaxSyntheticSize = 1000000;

struct TrainConfig {
  ModelConfig model;
  std::string dataset = "fashion-mnist";  // fashion-mnist | cifar10 | cifar100 | synthetic | imagefolder
  std::string data_dir;                   // empty: the data set's default folder
  int64_t synthetic_size = 2048;          // training images of the synthetic set (test: a quarter)
  ImageFolderOptions image_folder;        // imagefolder: crop size, decoding threads, corrupt images
  int64_t batch = 128;
  int64_t steps = 0;                      // > 0: exactly this many steps, else `epochs` (0 is not a valid --steps)
  double epochs = 1.0;
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = false;
  bool dampened_momentum = false;         // v = momentum v + (1 - momentum) d instead of v = momentum v + d
  double weight_decay = 0.0;
  ScheduleKind schedule = ScheduleKind::Cosine;  // cosine: to 0 over the run
  int64_t warmup_steps = 0;
  double warmup_lr = 0.0;                 // > 0: constant lr during the warm-up (else linear)
  LrControlKind lr_control = LrControlKind::None;
  double target_elr = 0.0;
  double affine_lr_scale = 1.0;           // lr multiplier of the BN gammas and betas and the classifier
  TargetElrRule target_elr_rule = TargetElrRule::Model;
  uint64_t seed = 0;
  int64_t log_every = 0;                  // 0: every step for the first 200 steps, then every 10
  std::string out;                        // run directory; empty: runs/<model>-<depth>-<time>
  Device device = Device::cpu();           // cpu, cuda or cuda:N
  bool cuda_graph = true;                 // cuda: replay the step as a CUDA graph (after one eager step)
  bool tf32 = false;                      // cuda: conv and linear GEMMs on TF32 tensor cores (sm_80+)
  int threads = 0;                        // 0: all cores
  int augment = -1;                       // -1: on for CIFAR and imagefolder, off otherwise
  bool evaluate = true;                   // test accuracy at the end
  int64_t bn_recalibrate = 0;             // > 0: BN statistics from this many training batches first
  OnDivergence on_divergence = OnDivergence::Stop;  // stop: end the run at the first divergence
  double divergence_loss = 0;             // a loss above it is a divergence; 0: kDivergenceLossFactor x ln(classes)
  bool progress = true;                   // progress line on stderr
  int64_t checkpoint_every = kDefaultCheckpointEvery;  // 0: checkpoint only at the end (and on an interrupt)
  std::string keep_checkpoints;           // "0 10 100": also keep the state before these steps (RUN/checkpoints/)
  bool overwrite = false;                 // `out` may hold an old run: its files are removed first
  bool resume = false;                    // continue the run in `out` from its checkpoint
  bool sync_bn = false;                   // several ranks: batch norm statistics over the global batch
  int bn_groups = 1;                      // batch norm statistics over this many equal slices of each batch
};

// How one setting appears on the command line and in config.json, and the range it must lie in.
struct TrainOption {
  enum class Check { None, NonNegative, Positive, AtLeast, BelowOne };

  const char* flag;               // "--wd"; "!--no-eval" is a flag that sets the setting to false
  const char* key;                // in config.json; nullptr: not saved
  const char* help;
  bool show_default = true;       // --help shows the default value
  bool optional_in_json = false;  // config.json of older versions lacks it: the default then
  Check check = Check::None;
  int64_t min = 0;                // Check::AtLeast
  int64_t max = 0;                // Check::AtLeast: > 0, also at most this
  const char* min_reason = "";    // Check::AtLeast: " (batch norm)"
  bool zero_is_unset = false;     // 0 stands for "not given" (a default): a value given must be positive
  bool trajectory = true;         // changes the numbers or the logs of a run: a checkpoint's must equal the run's
  bool hidden = false;            // left out of --help (a reference for tests, not a setting to study)

  constexpr TrainOption(const char* flag, const char* key, const char* help) : flag(flag), key(key), help(help) {}
  constexpr TrainOption no_default() const {
    TrainOption o = *this;
    o.show_default = false;
    return o;
  }
  constexpr TrainOption optional() const {
    TrainOption o = *this;
    o.optional_in_json = true;
    return o;
  }
  constexpr TrainOption checked(Check kind, int64_t n = 0, const char* reason = "") const {
    TrainOption o = *this;
    o.check = kind;
    o.min = n;
    o.min_reason = reason;
    return o;
  }
  constexpr TrainOption unset_when_zero() const {
    TrainOption o = checked(Check::NonNegative);
    o.zero_is_unset = true;
    return o;
  }
  constexpr TrainOption not_trajectory() const {
    TrainOption o = *this;
    o.trajectory = false;
    return o;
  }
  constexpr TrainOption at_most(int64_t n) const {
    TrainOption o = *this;
    o.max = n;
    return o;
  }
  constexpr TrainOption hide() const {
    TrainOption o = *this;
    o.hidden = true;
    return o;
  }
  constexpr TrainOption non_negative() const { return checked(Check::NonNegative); }
  constexpr TrainOption positive() const { return checked(Check::Positive); }  // and finite
  constexpr TrainOption below_one() const { return checked(Check::BelowOne); }  // in [0, 1)
  constexpr TrainOption at_least(int64_t n, const char* reason = "") const {
    return checked(Check::AtLeast, n, reason);
  }
  // The flag as typed: "--no-eval" for "!--no-eval".
  std::string name() const { return flag[0] == '!' ? flag + 1 : flag; }
};

// Every train option with the setting it holds, in the order `elrscope train --help` lists them:
// visit(const TrainOption&, field&) once per option. Checks that involve two settings are in
// validate_train_config.
template <class Config, class Visit>
void for_each_train_option(Config& c, Visit&& visit) {
  using O = TrainOption;
  visit(O("--model", "model", "plain | resnet | resnet-noshort | vgg | resnet-imagenet | resnet-imagenet-noshort"),
        c.model.name);
  visit(O("--depth", "depth",
          "layers: plain 3..200, resnet 6n+2 (20 32 56 110), vgg 11 or 16, resnet-imagenet 18 34 or 50"),
        c.model.depth);
  visit(O("--width", "width",
          "channels: plain (default 32), resnet first stage (16), vgg first block (64), resnet-imagenet first "
          "stage (64)")
            .no_default()
            .unset_when_zero(),
        c.model.width);
  visit(O("--dataset", "dataset", "fashion-mnist | cifar10 | cifar100 | synthetic | imagefolder"), c.dataset);
  visit(O("--data-dir", "data_dir",
          "folder of the data set files (fashion-mnist default: /usr/share/datasets/fashion-mnist or "
          "$ELR_FASHION_MNIST_DIR; imagefolder: the folder holding train/ and val/)")
            .no_default()
            .not_trajectory(),
        c.data_dir);
  visit(O("--synthetic-size", "synthetic_size", "training images of the synthetic set")
            .at_least(4)
            .at_most(kMaxSyntheticSize),
        c.synthetic_size);
  visit(O("--image-size", "image_size",
          "imagefolder: side of the square crops (training: random resized crop; evaluation: shorter side "
          "resized to 8/7 of it, centre crop)")
            .optional()
            .positive(),
        c.image_folder.image_size);
  visit(O("--data-threads", "data_threads", "imagefolder: JPEG decoding threads (0: one per core)")
            .optional()
            .non_negative()
            .not_trajectory(),
        c.image_folder.threads);
  visit(O("--skip-corrupt", "skip_corrupt",
          "imagefolder: decode every image when loading and leave out the unreadable ones (default: stop at "
          "the first, naming it)")
            .optional(),
        c.image_folder.skip_corrupt);
  visit(O("--batch", "batch", "batch size").at_least(2, " (batch norm)"), c.batch);
  visit(O("--steps", "steps", "number of steps (overrides --epochs); with --resume: extend a run to this many steps")
            .no_default()
            .unset_when_zero()
            .not_trajectory(),
        c.steps);
  visit(O("--epochs", "epochs", "number of epochs (fractions allowed)").not_trajectory(), c.epochs);
  visit(O("--lr", "lr", "base learning rate").positive(), c.lr);
  visit(O("--momentum", "momentum", "heavy-ball momentum (PyTorch convention)").below_one(), c.momentum);
  visit(O("--nesterov", "nesterov", "Nesterov momentum"), c.nesterov);
  visit(O("--dampened-momentum", "dampened_momentum",
          "momentum buffer v = momentum v + (1 - momentum) g, v_0 = (1 - momentum) g_0 (the lr is not rescaled)")
            .optional(),
        c.dampened_momentum);
  visit(O("--wd", "weight_decay", "weight decay (L2, added to the gradient)").non_negative(), c.weight_decay);
  visit(O("--schedule", "schedule", "constant | step (x0.1 at 50% and 75%) | cosine"), c.schedule);
  visit(O("--warmup", "warmup_steps", "warm-up steps (linear from lr/N to lr, or at --warmup-lr)").non_negative(),
        c.warmup_steps);
  visit(O("--warmup-lr", "warmup_lr",
          "constant lr during the --warmup steps (0: the linear ramp; the ResNet paper: 0.01 for 400 steps)")
            .non_negative()
            .optional(),
        c.warmup_lr);
  visit(O("--lr-control", "lr_control",
          "none | critical-warmup (lr = min(schedule, 1/sqrt(e_max e_min))) | max-elr-warmup (lr = min(schedule, "
          "1/e_max)) | uniform-elr (per-layer lr = target ELR / e) | lars (trust ratio)"),
        c.lr_control);
  visit(O("--target-elr", "target_elr", "uniform-elr target ELR (0: set by --target-elr-rule)").non_negative(),
        c.target_elr);
  visit(O("--affine-lr-scale", "affine_lr_scale",
          "lr multiplier of the batch norms' gamma and beta and the classifier (0 freezes them)")
            .optional()
            .non_negative(),
        c.affine_lr_scale);
  visit(O("--target-elr-rule", "target_elr_rule",
          "uniform-elr target without --target-elr: model (E0 = lr x the smallest e at step 0, then 1/sqrt(1/E0^2 + "
          "2t/(1-momentum)^2), not below sqrt(2 lr wd (1-momentum))) | step0 (lr x the median e at step 0, held)")
            .optional(),
        c.target_elr_rule);
  visit(O("--seed", "seed", "seed of initialization, data order and augmentation (0 or more)"), c.seed);
  visit(O("--log-every", "log_every",
          "write metrics and layer rows every N steps (0: every step for 200 steps, then every 10)")
            .non_negative(),
        c.log_every);
  visit(O("--out", "out", "run directory, empty or new (default runs/<model>-<depth>-<time>[-N], a new folder)")
            .no_default()
            .not_trajectory(),
        c.out);
  visit(O("--overwrite", nullptr, "--out may hold an old run: remove its files (and ode.csv, report/) first"),
        c.overwrite);
  visit(O("--device", "device", "cpu (cuda in CUDA builds)"), c.device);
  visit(O("--tf32", "tf32", "cuda: conv and linear GEMMs on TF32 tensor cores (sm_80+; default FP32)")
            .optional(),
        c.tf32);
  visit(O("!--no-cuda-graph", "cuda_graph", "cuda: run every step eagerly instead of replaying it as a CUDA graph")
            .optional()
            .not_trajectory(),
        c.cuda_graph);
  visit(O("--sync-bn", "sync_bn",
          "several ranks (mpirun/srun): batch norm statistics over the global batch instead of each rank's share "
          "(CPU)")
            .optional(),
        c.sync_bn);
  visit(O("--bn-groups", "bn_groups",
          "batch norm statistics over each of N equal slices of the batch: one process computing what N ranks "
          "without --sync-bn compute")
            .optional()
            .at_least(1)
            .hide(),
        c.bn_groups);
  visit(O("--threads", "threads",
          "CPU threads (0: all cores; more than the cores is allowed, with a warning: the results do not depend on it)")
            .non_negative()
            .not_trajectory(),
        c.threads);
  visit(O("--augment", "augment",
          "crop and flip (imagefolder: random resized crop and flip): 1 on, 0 off, -1 on for CIFAR and imagefolder"),
        c.augment);
  visit(O("--on-divergence", "on_divergence",
          "stop | continue when a loss or norm is not finite, or the loss is above --divergence-loss"),
        c.on_divergence);
  visit(O("--divergence-loss", "divergence_loss",
          "a loss above this is a divergence (0: 10 x ln(classes), 23.03 for 10 classes)")
            .optional()
            .non_negative(),
        c.divergence_loss);
  visit(O("--checkpoint-every", "checkpoint_every",
          "write RUN/checkpoint.safetensors every N steps (0: only at the end and on SIGINT/SIGTERM)")
            .non_negative()
            .not_trajectory(),
        c.checkpoint_every);
  visit(O("--keep-checkpoints", "keep_checkpoints",
          "steps whose starting state is also kept, as RUN/checkpoints/step-<N>.safetensors (\"0 10 100\")")
            .no_default()
            .optional()
            .not_trajectory(),
        c.keep_checkpoints);
  visit(O("!--no-eval", "evaluate", "skip the test-set evaluation").not_trajectory(), c.evaluate);
  visit(O("--bn-recalibrate", "bn_recalibrate",
          "before the test pass, N training batches through the final weights in training mode (no update), so "
          "that the BN running statistics are the final weights' (0: those gathered during training, as PyTorch)")
            .non_negative()
            .optional()
            .not_trajectory(),
        c.bn_recalibrate);
  visit(O("!--quiet", nullptr, "no progress line"), c.progress);
}

// The option of `elrscope train` with this flag ("--batch", "--no-eval"), for commands that share it.
const TrainOption& train_option(const std::string& flag);

// The words of the named settings, the same on the command line and in config.json. parse_setting
// throws UserError naming the option.
inline std::string setting_text(ScheduleKind v) { return schedule_kind_name(v); }
inline std::string setting_text(LrControlKind v) { return lr_control_name(v); }
inline std::string setting_text(TargetElrRule v) { return target_elr_rule_name(v); }
inline std::string setting_text(OnDivergence v) { return on_divergence_name(v); }
std::string setting_text(const Device& v);  // cpu, cuda (device 0) or cuda:N
inline void parse_setting(const std::string& text, ScheduleKind& v) { v = parse_schedule_kind(text); }
inline void parse_setting(const std::string& text, LrControlKind& v) { v = parse_lr_control(text); }
inline void parse_setting(const std::string& text, TargetElrRule& v) { v = parse_target_elr_rule(text); }
inline void parse_setting(const std::string& text, OnDivergence& v) { v = parse_on_divergence(text); }
void parse_setting(const std::string& text, Device& v);

template <class T>
constexpr bool is_named_setting = std::is_enum_v<T> || std::is_same_v<T, Device>;

// Throws UserError naming the option when `value` is outside the option's range.
template <class T>
void check_option_value(const TrainOption& o, const T& value) {
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    const double v = static_cast<double>(value);
    const std::string flag = o.name();
    switch (o.check) {
      case TrainOption::Check::None:
        return;
      case TrainOption::Check::NonNegative:
        if (!(v >= 0)) throw UserError(fmt::format("{}: must not be negative, got {}", flag, value));
        return;
      case TrainOption::Check::Positive:
        if (!(v > 0) || !std::isfinite(v)) throw UserError(fmt::format("{}: must be positive, got {}", flag, value));
        return;
      case TrainOption::Check::AtLeast:
        if (!(v >= static_cast<double>(o.min)))
          throw UserError(fmt::format("{}: must be at least {}{}, got {}", flag, o.min, o.min_reason, value));
        if (o.max > 0 && v > static_cast<double>(o.max))
          throw UserError(fmt::format("{}: must be at most {}, got {}", flag, o.max, value));
        return;
      case TrainOption::Check::BelowOne:
        if (!(v >= 0 && v < 1)) throw UserError(fmt::format("{}: must be in [0, 1), got {}", flag, value));
        return;
    }
  }
}

// The steps of --keep-checkpoints ("0 10 100", spaces or commas), sorted, each once; UserError
// naming the option on bad text.
std::vector<int64_t> kept_checkpoint_steps(const TrainConfig& c);
// Where the state before step `step` is kept (--keep-checkpoints) in a run directory.
std::string kept_checkpoint_path(const std::string& run_dir, int64_t step);

// config.json's settings: every option with a key, the width as built, and the momentum convention.
nlohmann::json config_to_json(const TrainConfig& c);
// The inverse of config_to_json (for --resume and ode); UserError naming the file on a bad config.
TrainConfig config_from_json(const nlohmann::json& j, const std::string& source);
// Throws UserError naming the option for every invalid or contradictory setting.
void validate_train_config(const TrainConfig& c);
// The first setting (its config.json key) in which two runs differ so that their numbers or logs
// would, "" when none does: what a checkpoint must share with the run it continues.
std::string trajectory_difference(const TrainConfig& a, const TrainConfig& b);

// The schedule of a run of `total_steps` steps, and its LR control, as the training step uses them.
ScheduleConfig schedule_config(const TrainConfig& c, int64_t total_steps);
LrControlConfig lr_control_config(const TrainConfig& c);

}  // namespace elr
