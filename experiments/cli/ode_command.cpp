// `elrscope ode`: options, the per-layer errors on stdout, the side-by-side CSV.
#include <cstdio>
#include <memory>
#include <optional>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/cli/commands.h"
#include "experiments/studies/ode.h"

namespace elr {

namespace {

struct OdeOptions {
  OdeConfig config;
  std::optional<double> collapse_scale, collapse_power;
};

int run_ode_command(OdeOptions& o) {
  OdeConfig& c = o.config;
  if (o.collapse_scale.has_value() != o.collapse_power.has_value())
    throw UserError("--collapse-scale and --collapse-power: give both or neither");
  if (o.collapse_scale) c.collapse = CollapseLaw{*o.collapse_scale, *o.collapse_power};
  const OdeComparison r = run_ode(c);
  write_ode_csv(r.out_path, r);
  std::fputs(format_ode_errors(r, {1, 10, 100}).c_str(), stdout);
  std::printf("\nwrote %s\n", r.out_path.c_str());
  return 0;
}

}  // namespace

Command register_ode_command(CLI::App& parent) {
  auto o = std::make_shared<OdeOptions>();
  OdeConfig* c = &o->config;
  CLI::App* app = parent.add_subcommand(
      "ode", "predict every scale-invariant layer's |W|^2 and ELR from step 0 with the scale-invariance model, "
             "and compare with the measured run");
  app->add_option("run", c->run_dir, "run directory of `elrscope train` (config.json, layers.csv)");
  app->add_option("--from-explode", c->from_explode, "start from an explode_layers.csv instead of a run");
  app->add_option("--depth", c->depth, "--from-explode: the depth to use (0: the only one in the file)");
  app->add_option("--lr", c->lr, "learning rate (default: the run's; explode: 0.1)");
  app->add_option("--momentum", c->momentum, "heavy-ball momentum (default: the run's; explode: 0)");
  app->add_option("--wd", c->weight_decay, "weight decay (default: the run's; explode: 0)");
  app->add_option_function<std::string>(
      "--lr-control", [c](const std::string& text) { c->lr_control = parse_lr_control(text); },
      "none | critical-warmup | uniform-elr | lars (default: the run's)");
  app->add_option("--grad-corr", c->grad_corr,
                  "assumed cosine between g_t and the part of the momentum buffer orthogonal to W (0: uncorrelated)")
      ->capture_default_str();
  app->add_option("--collapse-scale", o->collapse_scale,
                  "the base gradient collapses by kappa(E) = (1 + (E/scale)^2)^(-power/2) per step of ELR E "
                  "(default: no collapse; `elrscope critical` fits scale and power)");
  app->add_option("--collapse-power", o->collapse_power, "the collapse law's power");
  app->add_option("--steps", c->steps, "predict steps 0..K (default: the run's last logged step; explode: 100)");
  app->add_option("--out", c->out, "CSV file (default RUN/ode.csv, or ode-depth<D>.csv next to the explode file)");
  app->footer(
      "Model per layer: c = |g_0| |W_0| is held fixed (|g_t| = c / |W_t|) or collapses by kappa(ELR) per step,\n"
      "every gradient is orthogonal to W, momentum follows the run (PyTorch: v_0 = d_0, v = beta v + d; dampened:\n"
      "v_0 = (1 - beta) d_0, v = beta v + (1 - beta) d; W -= lr v), and the lr-control decides each step's\n"
      "learning rates from the predicted statistics exactly as in training. docs/explode-and-ode.md has details.");
  return {app, [o] { return run_ode_command(*o); }};
}

}  // namespace elr
