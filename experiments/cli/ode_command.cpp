// `elrscope ode`: options, the per-layer errors on stdout, the side-by-side CSV.
#include <cstdio>
#include <memory>

#include "engine/files.h"
#include "experiments/cli/commands.h"
#include "experiments/studies/ode.h"

namespace elr {

namespace {

int run_ode_command(const OdeConfig& c) {
  const OdeComparison r = run_ode(c);
  write_ode_csv(r.out_path, r);
  std::fputs(format_ode_errors(r, {1, 10, 100}).c_str(), stdout);
  std::printf("\nwrote %s\n", r.out_path.c_str());
  return 0;
}

}  // namespace

Command register_ode_command(CLI::App& parent) {
  auto c = std::make_shared<OdeConfig>();
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
  app->add_option("--steps", c->steps, "predict steps 0..K (default: the run's last logged step; explode: 100)");
  app->add_option("--out", c->out, "CSV file (default RUN/ode.csv, or ode-depth<D>.csv next to the explode file)");
  app->footer(
      "Model per layer: c = |g_0| |W_0| is held fixed (|g_t| = c / |W_t|), every gradient is orthogonal to W,\n"
      "momentum follows PyTorch (v_0 = d_0, v = beta v + d, W -= lr v), and the lr-control decides each step's\n"
      "learning rates from the predicted statistics exactly as in training. docs/explode-and-ode.md has details.");
  return {app, [c] { return run_ode_command(*c); }};
}

}  // namespace elr
