// `elrscope critical`: options, the table on stdout, the CSV files in --out.
#include <cstdio>
#include <memory>

#include "experiments/cli/commands.h"
#include "experiments/cli/train_command.h"
#include "experiments/studies/critical.h"
#include "experiments/studies/sweep.h"

namespace elr {

namespace {

struct CriticalOptions {
  CriticalConfig config;
  std::string at = "0 10 100 1000";
  std::optional<double> collapse_scale, collapse_power;
};

int run_critical_command(CriticalOptions& o) {
  CriticalConfig& c = o.config;
  c.at = parse_int_list(o.at, "--at");
  if (o.collapse_scale.has_value() != o.collapse_power.has_value())
    throw UserError("--collapse-scale and --collapse-power: give both or neither");
  if (o.collapse_scale) c.collapse = CollapseLaw{*o.collapse_scale, *o.collapse_power};
  const CriticalResult r = run_critical(c);
  write_critical_outputs(c, r);
  std::fputs(format_critical_table(c, r).c_str(), stdout);
  std::printf("wrote %s/critical_summary.csv, kappa_fit.csv, kappa_bins.csv and <run>/probe_layers.csv, spread.csv\n",
              c.out.c_str());
  return 0;
}

}  // namespace

Command register_critical_command(CLI::App& parent) {
  auto o = std::make_shared<CriticalOptions>();
  CriticalConfig& c = o->config;
  CLI::App* app = parent.add_subcommand(
      "critical", "the critical learning rate during training: one plain-SGD step per lr from a run's kept states, "
                  "the post-step ELR spread measured and predicted, and the collapse of the base gradient");
  app->add_option("runs", c.runs, "run directories trained with --keep-checkpoints")->required();
  app->add_option("--at", o->at, "steps whose kept state is probed (those a run lacks are skipped)")
      ->capture_default_str();
  app->add_option("--batches", c.batches, "step batches per state (each probed on the batch after it)")
      ->capture_default_str();
  app->add_option("--octaves-below", c.octaves_below, "the lr grid spans this many octaves below the critical LR")
      ->capture_default_str();
  app->add_option("--octaves-above", c.octaves_above, "and this many above it")->capture_default_str();
  app->add_option("--per-octave", c.per_octave, "grid points per octave (4: a 2^(1/4) grid)")->capture_default_str();
  app->add_option("--collapse-scale", o->collapse_scale,
                  "the collapse law kappa(E) = (1 + (E/scale)^2)^(-power/2) to predict with (default: fitted on the "
                  "step-0 probes)");
  app->add_option("--collapse-power", o->collapse_power, "its power");
  app->add_option("--out", c.out, "folder of the outputs (probes of a run are reused when their settings match)")
      ->required();
  add_train_option(*app, train_option("--threads"), c.threads);
  add_train_option(*app, train_option("--quiet"), c.progress);
  app->footer(
      "Per state (the run's weights before step N, RUN/checkpoints/step-N.safetensors) and batch: the gradient on\n"
      "the step batch, then for every lr W' = W - lr g (affine tensors at lr x --affine-lr-scale, no momentum, no\n"
      "weight decay) and the ELRs at W' on the next batch. docs/science.md explains the outputs.");
  return {app, [o] { return run_critical_command(*o); }};
}

}  // namespace elr
