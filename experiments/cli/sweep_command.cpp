// Registration of `elrscope sweep`.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/train_command.h"
#include "experiments/run/interrupt.h"
#include "experiments/studies/sweep.h"

namespace elr {

namespace {

struct SweepOptions {
  SweepConfig cfg;
  std::string lrs = "0.01 0.1 1", depths = "10 20", momenta = "0 0.9", lr_controls = "none critical-warmup",
              seeds = "0 1", shard = "0/1", spread_steps = "0 1 10 50";
  bool collect_only = false;
  CLI::Option* spread_steps_opt = nullptr;
  CLI::Option* threshold_opt = nullptr;
};

int run_sweep_command(SweepOptions& o) {
  SweepConfig& c = o.cfg;
  if (o.collect_only) {
    // The table settings default to those the sweep was started with.
    const std::string meta_path = c.out + "/sweep.json";
    if (!path_exists(meta_path))
      throw UserError(fmt::format("--out: '{}' is not a sweep directory (no sweep.json)", c.out));
    try {
      const nlohmann::json table = read_json(meta_path).value("table", nlohmann::json::object());
      if (o.spread_steps_opt->count() == 0 && table.contains("spread_steps"))
        c.spread_steps = table["spread_steps"].get<std::vector<int64_t>>();
      else
        c.spread_steps = parse_int_list(o.spread_steps, "--spread-steps");
      if (o.threshold_opt->count() == 0 && table.contains("spread_threshold"))
        c.spread_threshold = table["spread_threshold"].get<double>();
    } catch (const nlohmann::json::exception& e) {
      throw UserError(fmt::format("'{}' is not a sweep description: {}", meta_path, e.what()));
    }
    const int64_t rows = write_sweep_table(c.out, c.spread_steps, c.spread_threshold);
    std::printf("table: %lld finished points in %s/table.csv and table.md\n", static_cast<long long>(rows),
                c.out.c_str());
    return 0;
  }
  c.grid.lrs = parse_double_list(o.lrs, "--lrs");
  c.grid.momenta = parse_double_list(o.momenta, "--momenta");
  c.grid.depths = parse_int_list(o.depths, "--depths");
  c.grid.lr_controls = parse_word_list(o.lr_controls);
  for (int64_t s : parse_int_list(o.seeds, "--seeds")) {
    if (s < 0) throw UserError(fmt::format("--seeds: must not be negative, got {}", s));
    c.grid.seeds.push_back(static_cast<uint64_t>(s));
  }
  c.spread_steps = parse_int_list(o.spread_steps, "--spread-steps");
  parse_shard(o.shard, c.shard_index, c.shard_count);
  const SweepOutcome r = run_sweep(c);
  std::printf("sweep %s: shard %lld/%lld ran %lld points (%lld diverged), skipped %lld finished; "
              "table: %lld of %lld points finished\n",
              c.out.c_str(), static_cast<long long>(c.shard_index), static_cast<long long>(c.shard_count),
              static_cast<long long>(r.ran), static_cast<long long>(r.diverged), static_cast<long long>(r.skipped),
              static_cast<long long>(r.table_rows), static_cast<long long>(r.total_points));
  if (r.interrupted_by) {
    std::printf("interrupted by %s: the point it was on has a checkpoint; run the same command again to continue\n",
                signal_name(r.interrupted_by));
    return interrupted_exit_code(r.interrupted_by);
  }
  return 0;
}

}  // namespace

Command register_sweep_command(CLI::App& parent) {
  auto o = std::make_shared<SweepOptions>();
  o->cfg.grid = SweepGrid{};
  o->cfg.grid.seeds.clear();
  TrainConfig& t = o->cfg.base;
  CLI::App* app = parent.add_subcommand(
      "sweep", "train a grid of runs (lr x depth x momentum x lr control x seed) and tabulate their ELR spreads");
  app->add_option("--out", o->cfg.out, "sweep directory (points/<id>/ run directories, sweep.json, table.csv)")
      ->required();
  app->add_option("--lrs", o->lrs, "learning rates (space- or comma-separated)")->capture_default_str();
  app->add_option("--depths", o->depths, "depths")->capture_default_str();
  app->add_option("--momenta", o->momenta, "momenta")->capture_default_str();
  app->add_option("--lr-controls", o->lr_controls, "lr controls: none critical-warmup uniform-elr lars")
      ->capture_default_str();
  app->add_option("--seeds", o->seeds, "seeds")->capture_default_str();
  app->add_option("--shard", o->shard,
                  "i/n: run only the points whose grid index % n == i (grid order: lr, depth, momentum, lr "
                  "control, seed; seed fastest)")
      ->capture_default_str();
  o->spread_steps_opt =
      app->add_option("--spread-steps", o->spread_steps, "steps whose spread goes into the table")->capture_default_str();
  o->threshold_opt = app->add_option("--spread-threshold", o->cfg.spread_threshold,
                                     "the table's first step with spread below this value")
                         ->capture_default_str();
  app->add_flag("--collect-only", o->collect_only, "only rebuild table.csv and table.md from the finished points");
  add_train_option(*app, train_option("--quiet"), o->cfg.progress);
  // The fixed training settings, declared by `elrscope train`.
  add_train_options(*app, t,
                    {"--model", "--width", "--dataset", "--data-dir", "--synthetic-size", "--image-size",
                     "--data-threads", "--skip-corrupt", "--batch", "--steps",
                     "--epochs", "--wd", "--schedule", "--warmup", "--log-every", "--augment", "--on-divergence",
                     "--device", "--threads", "--no-eval"});
  app->footer(
      "Outputs (docs/sweep-and-report.md):\n"
      "  SWEEP/sweep.json          the grid and the fixed settings\n"
      "  SWEEP/points/<id>/        one run directory per grid point, e.g. lr0.1_d10_m0.9_none_s0\n"
      "  SWEEP/table.csv, table.md one row per finished point: spread at --spread-steps, first step with\n"
      "                            spread below the threshold, final loss, accuracy, divergence\n"
      "Rerunning a sweep resumes it: finished points are skipped, an interrupted one continues from its checkpoint.");
  return {app, [o] {
            o->cfg.grid.seeds.clear();
            return run_sweep_command(*o);
          }};
}

}  // namespace elr
