#include "experiments/studies/ode.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/run/run_logs.h"
#include "experiments/run/train_config.h"
#include "optim/layer_stats.h"

namespace elr {

namespace {

// The base gradient c = |g| |W| is held fixed, or collapses by kappa(ELR) after each step; the
// gradient is orthogonal to W (scale invariance).
// State per layer: s = |W_t|^2, q = |v_{t-1}|^2, r = <v_{t-1}, W_t>.
struct LayerState {
  double s = 0, c = 0, q = 0, r = 0;
};

void advance(LayerState& x, double lr, const OdeSettings& o) {
  const double beta = o.momentum, wd = o.weight_decay;
  const double a = o.dampened ? 1 - beta : 1.0;  // the weight of d_t in the buffer
  const double g2 = x.c * x.c / x.s;
  // Only the part of v_{t-1} orthogonal to W_t can correlate with g_t.
  const double vperp2 = std::max(0.0, x.q - x.r * x.r / x.s);
  const double gv = o.grad_corr * std::sqrt(g2 * vperp2);
  const double vw = beta * x.r + a * wd * x.s;  // <v_t, W_t>, using <g_t, W_t> = 0
  const double q = beta * beta * x.q + a * a * g2 + a * a * wd * wd * x.s + 2 * beta * a * gv + 2 * beta * a * wd * x.r;
  const double s = x.s - 2 * lr * vw + lr * lr * q;
  const double elr = lr * x.c / x.s;
  x.r = vw - lr * q;  // <v_t, W_{t+1}>
  x.q = q;
  x.s = s;
  x.c *= o.collapse.kappa(elr);
}

struct RunMeasurements {
  std::map<std::pair<int64_t, int>, LayerRow> rows;  // (step, layer) -> its layers.csv row
  std::vector<int64_t> steps;
};

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::string pct(double v) { return std::isfinite(v) ? fmt::format("{:+.3f}%", 100.0 * v) : std::string("n/a"); }

}  // namespace

std::vector<std::vector<OdePoint>> predict_trajectory(const std::vector<OdeLayerStart>& start, const OdeSettings& o) {
  ELR_CHECK(o.steps >= 0, "ode: steps must not be negative, got {}", o.steps);
  ScheduleConfig sched;
  sched.kind = o.schedule;
  sched.lr = o.lr;
  sched.total_steps = std::max<int64_t>(o.total_steps, 1);
  sched.warmup_steps = o.warmup_steps;
  sched.warmup_lr = o.warmup_lr;
  LrControlConfig ctrl;
  ctrl.kind = o.lr_control;
  ctrl.target_elr = o.target_elr;
  ctrl.target_rule = o.target_elr_rule;
  ctrl.momentum = o.momentum;
  ctrl.weight_decay = o.weight_decay;
  LrController controller(sched, ctrl);  // the same controller a training run uses

  std::vector<LayerState> state(start.size());
  for (size_t l = 0; l < start.size(); ++l) {
    ELR_CHECK(start[l].w2 > 0 && start[l].e > 0, "ode: layer '{}' starts with |W|^2 = {} and e = {} (both must be > 0)",
              start[l].name, start[l].w2, start[l].e);
    state[l].s = start[l].w2;
    state[l].c = start[l].e * start[l].w2;  // |g| |W|
  }
  std::vector<std::vector<OdePoint>> out;
  for (int64_t t = 0; t <= o.steps; ++t) {
    std::vector<LayerStats> stats(start.size());
    for (size_t l = 0; l < start.size(); ++l) {
      stats[l].name = start[l].name;
      stats[l].kind = ParamKind::Conv;
      stats[l].scale_invariant = true;
      stats[l].w2 = state[l].s;
      stats[l].g2 = state[l].c * state[l].c / state[l].s;
    }
    controller.decide(t, stats);
    std::vector<OdePoint> row(start.size());
    for (size_t l = 0; l < start.size(); ++l) {
      row[l].w2 = state[l].s;
      row[l].c = state[l].c;
      row[l].lr = stats[l].lr;
      row[l].elr = stats[l].lr * stats[l].e();
    }
    out.push_back(std::move(row));
    if (t == o.steps) break;
    for (size_t l = 0; l < start.size(); ++l) advance(state[l], stats[l].lr, o);
  }
  return out;
}

OdeComparison run_ode(const OdeConfig& c) {
  if (c.run_dir.empty() == c.from_explode.empty())
    throw UserError("ode: give either a run directory or --from-explode FILE (exactly one)");
  if (!(c.grad_corr >= -1 && c.grad_corr <= 1))
    throw UserError(fmt::format("--grad-corr: must be in [-1, 1], got {}", c.grad_corr));
  // Given values are checked as `elrscope train` checks them.
  if (c.lr) check_option_value(train_option("--lr"), *c.lr);
  if (c.momentum) check_option_value(train_option("--momentum"), *c.momentum);
  if (c.weight_decay) check_option_value(train_option("--wd"), *c.weight_decay);
  if (c.steps && *c.steps < 0) throw UserError(fmt::format("--steps: must not be negative, got {}", *c.steps));
  OdeComparison r;
  OdeSettings& o = r.settings;
  std::vector<OdeLayerStart> start;
  RunMeasurements meas;
  int64_t last_logged = 100;
  int explode_depth = 0;

  if (!c.run_dir.empty()) {
    r.source = c.run_dir;
    const std::string config_path = c.run_dir + "/config.json";
    const nlohmann::json config = read_json(config_path);
    const TrainConfig run = config_from_json(config, config_path);
    if (run.nesterov) throw UserError("ode: the run used Nesterov momentum, which the model does not cover");
    o.lr = run.lr;
    o.momentum = run.momentum;
    o.dampened = run.dampened_momentum;
    o.weight_decay = run.weight_decay;
    o.schedule = run.schedule;
    o.warmup_steps = run.warmup_steps;
    o.warmup_lr = run.warmup_lr;
    o.total_steps = config.value("total_steps", int64_t{1});  // written by train() next to the settings
    o.lr_control = run.lr_control;
    o.target_elr = run.target_elr;
    o.target_elr_rule = run.target_elr_rule;

    std::set<int64_t> steps;
    for (const LayerRow& row : read_layers_csv(c.run_dir + "/layers.csv")) {
      if (!row.scale_invariant) continue;
      const int layer = static_cast<int>(row.layer);
      steps.insert(row.step);
      meas.rows[{row.step, layer}] = row;
      if (row.step == 0) start.push_back({layer, row.name, row.w2, row.w2 > 0 ? std::sqrt(row.g2 / row.w2) : 0.0});
    }
    meas.steps.assign(steps.begin(), steps.end());
    if (start.empty()) throw UserError(fmt::format("{}/layers.csv: no step-0 rows of scale-invariant layers", c.run_dir));
    last_logged = meas.steps.back();
  } else {
    r.source = c.from_explode;
    o.lr = 0.1;
    o.total_steps = c.steps.value_or(100);
    const CsvTable t(c.from_explode);
    const size_t cd = t.column("depth"), cp = t.column("param_index"), cn = t.column("name"), cw = t.column("w2"),
                 ce = t.column("e");
    std::set<int64_t> depths;
    for (size_t i = 0; i < t.rows(); ++i) depths.insert(t.integer(i, cd));
    int depth = c.depth;
    if (depth == 0) {
      if (depths.size() != 1)
        throw UserError(fmt::format("--depth: {} holds {} depths; choose one", c.from_explode, depths.size()));
      depth = static_cast<int>(*depths.begin());
    }
    if (!depths.count(depth)) throw UserError(fmt::format("--depth: {} has no rows of depth {}", c.from_explode, depth));
    for (size_t i = 0; i < t.rows(); ++i)
      if (t.integer(i, cd) == depth)
        start.push_back({static_cast<int>(t.integer(i, cp)), t.text(i, cn), t.number(i, cw), t.number(i, ce)});
    r.source += fmt::format(" (depth {})", depth);
    explode_depth = depth;
  }

  if (c.lr) o.lr = *c.lr;
  if (c.momentum) o.momentum = *c.momentum;
  if (c.weight_decay) o.weight_decay = *c.weight_decay;
  if (c.lr_control) o.lr_control = *c.lr_control;
  o.grad_corr = c.grad_corr;
  o.collapse = c.collapse;
  o.steps = c.steps ? *c.steps : last_logged;

  const auto traj = predict_trajectory(start, o);
  for (int64_t t = 0; t <= o.steps; ++t) {
    for (size_t l = 0; l < start.size(); ++l) {
      OdeRow row;
      row.step = t;
      row.layer = start[l].layer;
      row.name = start[l].name;
      row.w2_pred = traj[t][l].w2;
      row.elr_pred = traj[t][l].elr;
      row.c_pred = traj[t][l].c;
      const auto m = meas.rows.find({t, start[l].layer});
      if (m != meas.rows.end()) {
        row.measured = true;
        row.w2_meas = m->second.w2;
        row.elr_meas = m->second.elr.value_or(std::nan(""));
        row.c_meas = m->second.base_grad;
      }
      r.rows.push_back(row);
    }
  }
  r.measured_steps = meas.steps;
  if (!c.out.empty()) {
    r.out_path = c.out;
  } else if (!c.run_dir.empty()) {
    r.out_path = c.run_dir + "/ode.csv";
  } else {
    r.out_path = fmt::format("{}/ode-depth{}.csv", directory_of(c.from_explode), explode_depth);
  }
  return r;
}

void write_ode_csv(const std::string& path, const OdeComparison& r) {
  std::string s = "step,layer,name,w2_pred,w2_meas,elr_pred,elr_meas,rel_err_w2,rel_err_elr,c_pred,c_meas\n";
  for (const OdeRow& row : r.rows) {
    const bool me = row.measured && std::isfinite(row.elr_meas);
    const bool mc = row.measured && std::isfinite(row.c_meas);
    s += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", row.step, row.layer, row.name, format_double(row.w2_pred),
                     row.measured ? format_double(row.w2_meas) : "", format_double(row.elr_pred),
                     me ? format_double(row.elr_meas) : "", row.measured ? format_double(row.rel_err_w2()) : "",
                     me ? format_double(row.rel_err_elr()) : "", format_double(row.c_pred),
                     mc ? format_double(row.c_meas) : "");
  }
  write_file_atomic(path, s);
}

std::string format_ode_errors(const OdeComparison& r, const std::vector<int64_t>& steps) {
  const OdeSettings& o = r.settings;
  const std::string base_gradient =
      o.collapse.active()
          ? fmt::format("c = |g| |W| from |g_0| |W_0|, times kappa(ELR) = (1 + (ELR/{:.4g})^2)^(-{:.4g}/2) per step",
                        o.collapse.scale, o.collapse.power)
          : std::string("c = |g_0| |W_0| held fixed");
  std::string out = fmt::format(
      "ode: {}\nmodel: lr {} momentum {}{} weight decay {} lr-control {} grad-corr {}, steps 0..{}; {}, update "
      "orthogonal to W\nerror = (predicted - measured) / measured\n",
      r.source, o.lr, o.momentum, o.dampened ? " (dampened)" : "", o.weight_decay, lr_control_name(o.lr_control),
      o.grad_corr, o.steps, base_gradient);
  bool any = false;
  for (int64_t step : steps) {
    std::vector<const OdeRow*> rows;
    for (const OdeRow& row : r.rows)
      if (row.step == step && row.measured) rows.push_back(&row);
    if (rows.empty()) continue;
    any = true;
    double max_w2 = 0, max_elr = 0;
    for (const OdeRow* row : rows) {
      max_w2 = std::max(max_w2, std::fabs(row->rel_err_w2()));
      if (std::isfinite(row->rel_err_elr())) max_elr = std::max(max_elr, std::fabs(row->rel_err_elr()));
    }
    out += fmt::format("\nstep {}: max |error| of |W|^2 {:.3f}%, of ELR {:.3f}%\n", step, 100 * max_w2, 100 * max_elr);
    out += fmt::format("{:>5} {:<28} {:>12} {:>12} {:>10} {:>11} {:>11} {:>10}\n", "layer", "name", "w2 meas", "w2 pred",
                       "w2 err", "elr meas", "elr pred", "elr err");
    for (const OdeRow* row : rows)
      out += fmt::format("{:>5} {:<28} {:>12.5g} {:>12.5g} {:>10} {:>11.4g} {:>11.4g} {:>10}\n", row->layer, row->name,
                         row->w2_meas, row->w2_pred, pct(row->rel_err_w2()), row->elr_meas, row->elr_pred,
                         pct(row->rel_err_elr()));
  }
  if (!any) out += "\n(no measured step among the requested ones)\n";
  return out;
}

}  // namespace elr
