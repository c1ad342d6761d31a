// Registration of `elrscope trainability`: the grid options, the presets, and the training options
// it shares with `elrscope train`.
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/train_command.h"
#include "experiments/run/interrupt.h"
#include "experiments/studies/trainability.h"

namespace elr {

namespace {

struct TrainabilityOptions {
  TrainabilityConfig cfg;
  std::string preset = "quick";
  std::string models, depths, lrs, warmups, seeds, shard = "0/1";
  bool collect_only = false;
};

// A preset: values for the options that the command line leaves out (docs/trainability.md).
using Preset = std::vector<std::pair<std::string, std::string>>;

Preset preset_values(const std::string& name, bool data_dir_given) {
  const std::string warmups = "none low-lr critical-warmup max-elr-warmup";
  if (name == "quick")  // about 25 minutes on 2 cores (docs/trainability.md)
    return {{"--dataset", data_dir_given ? "cifar10" : "fashion-mnist"},
            {"--models", "resnet resnet-noshort"},
            {"--depths", "20 56"},
            {"--width", "8"},
            {"--lrs", "0.1"},
            {"--warmups", warmups},
            {"--seeds", "0 1 2"},
            {"--momentum", "0.9"},
            {"--wd", "0.0001"},
            {"--batch", "128"},
            {"--steps", "300"},
            {"--schedule", "step"},
            {"--warmup", "50"},
            {"--warmup-lr", "0.01"},
            {"--early-steps", "100"},
            {"--jobs", "2"},
            {"--threads", "1"}};
  if (name == "paper")  // He et al. 2016 on CIFAR-10: 64k iterations, lr x0.1 at 32k and 48k
    return {{"--dataset", "cifar10"},
            {"--models", "resnet resnet-noshort"},
            {"--depths", "56 110"},
            {"--width", "16"},
            {"--lrs", "0.1"},
            {"--warmups", warmups},
            {"--seeds", "0 1 2"},
            {"--momentum", "0.9"},
            {"--wd", "0.0001"},
            {"--batch", "128"},
            {"--steps", "64000"},
            {"--schedule", "step"},
            {"--warmup", "400"},
            {"--warmup-lr", "0.01"},
            {"--early-steps", "400"},
            {"--jobs", "1"},
            {"--threads", "0"}};
  throw UserError(fmt::format("--preset: unknown preset '{}' (expected quick or paper)", name));
}

// Gives every option of the preset that the command line did not give (nor an option that excludes
// it, as --epochs excludes --steps) its preset value, as if it had been typed.
void apply_preset(CLI::App& app, const Preset& preset) {
  for (const auto& [flag, value] : preset) {
    CLI::Option* opt = app.get_option(flag);
    bool given = opt->count() > 0;
    for (const CLI::Option* other : opt->get_excludes()) given = given || other->count() > 0;
    if (given) continue;
    opt->add_result(value);
    opt->run_callback();
  }
}

int run_trainability_command(CLI::App& app, TrainabilityOptions& o) {
  TrainabilityConfig& c = o.cfg;
  if (o.collect_only) {
    const std::string meta_path = c.out + "/trainability.json";
    if (!path_exists(meta_path))
      throw UserError(fmt::format("--out: '{}' is not a trainability study (no trainability.json)", c.out));
    // The table settings default to those the study was started with.
    const nlohmann::json table = read_json(meta_path).value("table", nlohmann::json::object());
    if (app.get_option("--early-steps")->count() == 0) c.early_steps = table.value("early_steps", c.early_steps);
    if (app.get_option("--spread-threshold")->count() == 0)
      c.spread_threshold = table.value("spread_threshold", c.spread_threshold);
    const TrainabilityOutputs out = write_trainability_outputs(c.out, c.early_steps, c.spread_threshold, c.plots);
    std::printf("%s\ntables: %lld of %lld runs finished, in %s/table.csv, groups.csv, verdict.md\n", out.verdict.c_str(),
                static_cast<long long>(out.rows), static_cast<long long>(out.total_points), c.out.c_str());
    return 0;
  }
  apply_preset(app, preset_values(o.preset, app.get_option("--data-dir")->count() > 0));
  c.grid.models = parse_word_list(o.models);
  c.grid.depths = parse_int_list(o.depths, "--depths");
  c.grid.lrs = parse_double_list(o.lrs, "--lrs");
  c.grid.warmups = parse_word_list(o.warmups);
  for (int64_t s : parse_int_list(o.seeds, "--seeds")) {
    if (s < 0) throw UserError(fmt::format("--seeds: must not be negative, got {}", s));
    c.grid.seeds.push_back(static_cast<uint64_t>(s));
  }
  parse_shard(o.shard, c.shard_index, c.shard_count);
  if (c.jobs < 1) throw UserError(fmt::format("--jobs: must be at least 1, got {}", c.jobs));
  const TrainabilityOutcome r = run_trainability(c);
  if (r.interrupted_by) {
    std::printf("interrupted by %s: the points on hand have a checkpoint; run the same command again to continue\n",
                signal_name(r.interrupted_by));
    return interrupted_exit_code(r.interrupted_by);
  }
  std::printf("%s\ntrainability %s: shard %lld/%lld ran %lld runs (%lld diverged), skipped %lld finished; "
              "tables: %lld of %lld runs finished, in table.csv, groups.csv, verdict.md%s\n",
              r.outputs.verdict.c_str(), c.out.c_str(), static_cast<long long>(c.shard_index),
              static_cast<long long>(c.shard_count), static_cast<long long>(r.ran), static_cast<long long>(r.diverged),
              static_cast<long long>(r.skipped), static_cast<long long>(r.outputs.rows),
              static_cast<long long>(r.total_points), r.outputs.figures.empty() ? "" : ", figures/");
  return 0;
}

}  // namespace

Command register_trainability_command(CLI::App& parent) {
  auto o = std::make_shared<TrainabilityOptions>();
  TrainabilityConfig& c = o->cfg;
  c.grid.seeds.clear();
  CLI::App* app = parent.add_subcommand(
      "trainability",
      "the paper's central experiment: ResNets with and without shortcuts, with and without warm-ups, "
      "their test accuracy against the early ELR spread (model x depth x lr x warm-up x seed)");
  app->add_option("--out", c.out, "study directory (points/<id>/ run directories, tables, verdict, figures/)")
      ->required();
  app->add_option("--preset", o->preset,
                  "quick (Fashion-MNIST, or CIFAR-10 with --data-dir; width 8, depths 20 56, 300 steps) | paper "
                  "(CIFAR-10, width 16, depths 56 110, 64000 steps): the values of the options not given")
      ->capture_default_str();
  app->add_option("--models", o->models, "resnet (Short) and/or resnet-noshort (No Short)");
  app->add_option("--depths", o->depths, "depths (6n+2)");
  app->add_option("--lrs", o->lrs, "base learning rates");
  app->add_option("--warmups", o->warmups,
                  "none | linear (lr/N .. lr over --warmup N steps) | low-lr (--warmup-lr for --warmup N steps, "
                  "the ResNet paper's) | critical-warmup | max-elr-warmup");
  app->add_option("--seeds", o->seeds, "seeds of initialization and data order");
  app->add_option("--shard", o->shard,
                  "i/n: run only the points whose grid index % n == i (grid order: model, depth, lr, warm-up, "
                  "seed; seed fastest)")
      ->capture_default_str();
  app->add_option("--jobs", c.jobs, "runs at the same time, each in its own process (use with --threads)");
  app->add_option("--early-steps", c.early_steps, "the table's early window: steps 0 .. N-1");
  app->add_option("--spread-threshold", c.spread_threshold, "the table's first step with spread below this value")
      ->capture_default_str();
  app->add_flag("--collect-only", o->collect_only, "only rebuild the tables, verdict and figures from the finished runs");
  app->add_flag("!--no-plots", c.plots, "no figures (no gnuplot needed)");
  add_train_option(*app, train_option("--quiet"), c.progress);
  // The fixed training settings, declared by `elrscope train`.
  add_train_options(*app, c.base,
                    {"--dataset", "--data-dir", "--synthetic-size", "--width", "--batch", "--steps", "--epochs",
                     "--momentum", "--wd", "--schedule", "--warmup", "--warmup-lr", "--log-every", "--augment",
                     "--on-divergence", "--device", "--threads", "--no-eval"});
  app->footer(
      "Outputs (docs/trainability.md):\n"
      "  STUDY/trainability.json   the grid, the fixed settings, the table settings\n"
      "  STUDY/points/<id>/        one run directory per point, e.g. resnet-noshort_d56_lr0.1_none_s0\n"
      "  STUDY/table.csv, table.md one row per finished run: early and whole-run log10 spread, first step\n"
      "                            with spread below the threshold, train loss, test accuracy, divergence\n"
      "  STUDY/groups.csv, .md     one row per setting: means over seeds with t-based 95% intervals\n"
      "  STUDY/verdict.md          the paper's claim checked against the groups, with the rule used\n"
      "  STUDY/figures/            accuracy against early spread, accuracy against lr, spread against step\n"
      "Rerunning the command resumes the study: finished points are skipped, an interrupted one continues from its\n"
      "checkpoint.\n"
      "The defaults shown are those of elrscope train: --preset gives every option not given its own value.");
  return {app, [o, app] { return run_trainability_command(*app, *o); }};
}

}  // namespace elr
