#include "experiments/studies/critical.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/files.h"
#include "experiments/data/data_loader.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/progress.h"
#include "experiments/run/run_logs.h"
#include "experiments/run/train.h"
#include "kernels/kernels.h"
#include "layers/models.h"
#include "optim/lr_control.h"
#include "optim/sgd.h"
#include "optim/step_body.h"

namespace elr {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string base_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

double geometric_mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += std::log(x);
  return v.empty() ? kNaN : std::exp(s / static_cast<double>(v.size()));
}

// The smallest and largest positive, finite value; {inf, 0} when there is none.
std::pair<double, double> positive_range(const std::vector<double>& v) {
  double lo = INFINITY, hi = 0;
  for (double x : v)
    if (x > 0 && std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  return {lo, hi};
}

// 1 / sqrt(e_max e_min) over the positive e (summarize_spread's critical_lr).
double critical_lr_of(const std::vector<double>& e) {
  const auto [lo, hi] = positive_range(e);
  return hi > 0 ? 1.0 / std::sqrt(lo * hi) : kNaN;
}

// max / min over the positive values (a layer with no gradient is left out, as in metrics.jsonl).
double spread_of(const std::vector<double>& v) {
  const auto [lo, hi] = positive_range(v);
  return hi > 0 ? hi / lo : kNaN;
}

// ---- probing one run ---------------------------------------------------------------------------

struct Sums {
  double w2 = 0, g2 = 0;
};

Sums sums_of(const Parameter& p) {
  const kernels::TensorStats s = kernels::tensor_stats_cpu(p.value.numel(), p.value.data(), p.value.grad().data(), nullptr);
  return {s.w2, s.g2};
}

// Every parameter's gradient on the batch at the model's current weights; the loss.
double gradients(Module& model, const std::vector<Parameter*>& params, const Batch& b) {
  for (Parameter* p : params) p->value.reset_grad();
  return forward_backward(model, b.images, b.labels).loss.to_vector()[0];
}

nlohmann::json probe_settings(const CriticalConfig& c, const std::string& run_dir) {
  return {{"run", run_dir},           {"at", c.at},
          {"batches", c.batches},     {"octaves_below", c.octaves_below},
          {"octaves_above", c.octaves_above}, {"per_octave", c.per_octave}};
}

std::string probe_layers_header() { return "step,batch,lr,layer,name,e0,c0,c0_probe,e1,c1,elr0,kappa\n"; }

void write_probes(const std::string& dir, const RunProbes& r, const nlohmann::json& settings) {
  make_directories(dir);
  std::string layers = probe_layers_header();
  for (const ProbeLayer& l : r.layers)
    layers += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}\n", l.step, l.batch, format_double(l.lr), l.layer,
                          l.name, format_double(l.e0), format_double(l.c0), format_double(l.c0_probe),
                          format_double(l.e1), format_double(l.c1), format_double(l.elr0()),
                          format_double(l.kappa()));
  std::string losses = "step,batch,lr,loss0,loss1\n";
  for (const ProbeLoss& l : r.losses)
    losses += fmt::format("{},{},{},{},{}\n", l.step, l.batch, format_double(l.lr), format_double(l.loss0),
                          format_double(l.loss1));
  write_file_atomic(dir + "/probe_layers.csv", layers);
  write_file_atomic(dir + "/probe_losses.csv", losses);
  write_json_atomic(dir + "/probe.json", settings);  // last: it marks the probes complete
}

void read_probes(const std::string& dir, RunProbes& r) {
  const CsvTable t(dir + "/probe_layers.csv");
  const size_t cs = t.column("step"), cb = t.column("batch"), clr = t.column("lr"), cl = t.column("layer"),
               cn = t.column("name"), ce0 = t.column("e0"), cc0 = t.column("c0"), ccp = t.column("c0_probe"),
               ce1 = t.column("e1"), cc1 = t.column("c1");
  std::set<int64_t> steps;
  for (size_t i = 0; i < t.rows(); ++i) {
    ProbeLayer l;
    l.step = t.integer(i, cs);
    l.batch = t.integer(i, cb);
    l.lr = t.number(i, clr);
    l.layer = static_cast<int>(t.integer(i, cl));
    l.name = t.text(i, cn);
    l.e0 = t.number(i, ce0);
    l.c0 = t.number(i, cc0);
    l.c0_probe = t.number(i, ccp);
    l.e1 = t.number(i, ce1);
    l.c1 = t.number(i, cc1);
    steps.insert(l.step);
    r.layers.push_back(std::move(l));
  }
  r.steps.assign(steps.begin(), steps.end());
  const CsvTable losses(dir + "/probe_losses.csv");
  const size_t ls = losses.column("step"), lb = losses.column("batch"), llr = losses.column("lr"),
               l0 = losses.column("loss0"), l1 = losses.column("loss1");
  for (size_t i = 0; i < losses.rows(); ++i)
    r.losses.push_back({losses.integer(i, ls), losses.integer(i, lb), losses.number(i, llr), losses.number(i, l0),
                        losses.number(i, l1)});
}

void probe_run(const CriticalConfig& c, RunProbes& r, std::vector<std::string>& notes) {
  const std::string config_path = r.run_dir + "/config.json";
  const TrainConfig cfg = config_from_json(read_json(config_path), config_path);
  const Dataset data = load_training_set(cfg);
  const Normalization norm = channel_normalization(data);
  std::shared_ptr<Module> model = build_model(run_model_config(cfg, data));
  model->train(true);  // batch statistics, as in a training step
  const std::vector<Parameter*> params = model->parameters();
  Sgd sgd(params, SgdConfig{cfg.momentum, cfg.weight_decay, cfg.nesterov, cfg.dampened_momentum});
  DataLoader loader(data, cfg.batch, cfg.seed, true, run_augments(cfg), true, norm, false);
  const int64_t per_epoch = loader.batches_per_epoch();
  auto batch_at = [&](int64_t epoch, int64_t index) { return loader.make_batch(epoch + index / per_epoch, index % per_epoch); };
  // The probe step is the run's SGD without momentum or weight decay: lr x --affine-lr-scale for
  // the affine tensors, lr for the others.
  std::vector<double> lr_factor(params.size(), 1.0);
  std::vector<size_t> si;
  for (size_t i = 0; i < params.size(); ++i) {
    if (lr_control_flags(params[i]->scale_invariant, params[i]->kind, params[i]->name) & kernels::kLayerAffine)
      lr_factor[i] = cfg.affine_lr_scale;
    if (params[i]->scale_invariant) si.push_back(i);
  }

  std::vector<int64_t> steps;
  for (int64_t s : c.at) {
    if (path_exists(kept_checkpoint_path(r.run_dir, s)))
      steps.push_back(s);
    else
      notes.push_back(fmt::format("{}: no kept state before step {} ({}): skipped", r.run_dir, s,
                                  kept_checkpoint_path(r.run_dir, s)));
  }
  const int64_t grid_size = static_cast<int64_t>(critical_lr_grid(c, 1.0).size());
  Progress progress(static_cast<int64_t>(steps.size()) * c.batches * (grid_size + 2), c.progress);
  int64_t done = 0;
  for (int64_t step : steps) {
    const TrainState state = load_checkpoint(kept_checkpoint_path(r.run_dir, step), *model, sgd);
    std::vector<std::vector<float>> start(params.size()), g0(params.size());
    for (size_t i = 0; i < params.size(); ++i)
      start[i].assign(params[i]->value.data(), params[i]->value.data() + params[i]->value.numel());
    std::vector<double> grid;
    for (int64_t b = 0; b < c.batches; ++b) {
      for (size_t i = 0; i < params.size(); ++i) std::copy(start[i].begin(), start[i].end(), params[i]->value.data());
      const Batch step_batch = batch_at(state.data_epoch, state.data_index + b);
      const Batch probe = batch_at(state.data_epoch, state.data_index + b + 1);
      gradients(*model, params, probe);
      std::vector<double> c0_probe;
      for (size_t i : si) {
        const Sums s = sums_of(*params[i]);
        c0_probe.push_back(std::sqrt(s.w2 * s.g2));
      }
      const double loss0 = gradients(*model, params, step_batch);
      std::vector<double> e0, c0;
      for (size_t i : si) {
        const Sums s = sums_of(*params[i]);
        e0.push_back(s.w2 > 0 ? std::sqrt(s.g2 / s.w2) : 0.0);
        c0.push_back(std::sqrt(s.w2 * s.g2));
      }
      for (size_t i = 0; i < params.size(); ++i) {
        const Tensor g = params[i]->value.grad();
        g0[i].assign(g.data(), g.data() + g.numel());
      }
      done += 2;
      if (b == 0) {
        const double critical = critical_lr_of(e0);
        if (!(critical > 0))
          throw UserError(fmt::format("{}: no scale-invariant layer has a gradient at step {}", r.run_dir, step));
        grid = critical_lr_grid(c, critical);
      }
      for (double lr : grid) {
        for (size_t i = 0; i < params.size(); ++i) {
          const float rate = static_cast<float>(lr * lr_factor[i]);
          float* w = params[i]->value.data();
          for (size_t k = 0; k < start[i].size(); ++k) w[k] = start[i][k] - rate * g0[i][k];
        }
        const double loss1 = gradients(*model, params, probe);
        for (size_t k = 0; k < si.size(); ++k) {
          const Sums s = sums_of(*params[si[k]]);
          ProbeLayer l;
          l.step = step;
          l.batch = b;
          l.lr = lr;
          l.layer = static_cast<int>(si[k]);
          l.name = params[si[k]]->name;
          l.e0 = e0[k];
          l.c0 = c0[k];
          l.c0_probe = c0_probe[k];
          l.e1 = s.w2 > 0 ? std::sqrt(s.g2 / s.w2) : 0.0;
          l.c1 = std::sqrt(s.w2 * s.g2);
          r.layers.push_back(std::move(l));
        }
        r.losses.push_back({step, b, lr, loss0, loss1});
        progress.update(++done, fmt::format("{} step {} batch {} lr {:.3g}", r.name, step, b, lr));
      }
    }
  }
  progress.finish();
  r.steps = steps;
}

// ---- analysis ----------------------------------------------------------------------------------

// The rows of one (step, batch) of a run, by lr (in grid order).
struct StateProbes {
  std::vector<double> lrs;
  std::map<int64_t, std::vector<double>> e0;                   // batch -> e0 per layer
  std::map<int64_t, std::map<double, std::vector<double>>> e1;  // batch -> lr -> e1 per layer
};

std::map<int64_t, StateProbes> by_state(const RunProbes& r) {
  std::map<int64_t, StateProbes> out;
  std::map<int64_t, std::set<double>> lrs;
  for (const ProbeLayer& l : r.layers) {
    StateProbes& s = out[l.step];
    lrs[l.step].insert(l.lr);
    std::vector<double>& e1 = s.e1[l.batch][l.lr];
    e1.push_back(l.e1);
    // e0 is the same for every lr of a batch: take it from the first lr's rows.
    if (e1.size() > s.e0[l.batch].size()) s.e0[l.batch].push_back(l.e0);
  }
  for (auto& [step, s] : out) s.lrs.assign(lrs[step].begin(), lrs[step].end());
  return out;
}

CriticalPoint analyse_state(const CriticalConfig& c, const RunProbes& r, int64_t step, const StateProbes& s,
                            const CollapseLaw& law) {
  CriticalPoint p;
  p.run = r.name;
  p.group = r.group;
  p.seed = r.seed;
  p.step = step;
  p.batches = static_cast<int>(s.e0.size());
  std::vector<double> critical, model, kappa;
  const double lo = s.lrs.front() / 16, hi = s.lrs.back() * 16;
  for (const auto& [b, e0] : s.e0) {
    critical.push_back(critical_lr_of(e0));
    model.push_back(one_step_spread_minimum(e0, CollapseLaw{}, lo, hi));
    kappa.push_back(one_step_spread_minimum(e0, law, lo, hi));
  }
  p.critical_lr = geometric_mean(critical);
  p.lr_min_model = geometric_mean(model);
  p.lr_min_kappa = geometric_mean(kappa);
  p.spread_min_meas = INFINITY;
  for (size_t k = 0; k < s.lrs.size(); ++k) {
    std::vector<double> spreads;
    for (const auto& [b, per_lr] : s.e1) spreads.push_back(spread_of(per_lr.at(s.lrs[k])));
    const double m = geometric_mean(spreads);
    if (m < p.spread_min_meas) {
      p.spread_min_meas = m;
      p.lr_min_meas = s.lrs[k];
      p.at_grid_edge = k == 0 || k + 1 == s.lrs.size();
    }
  }
  p.steps_model = c.per_octave * std::log2(p.lr_min_meas / p.lr_min_model);
  p.steps_kappa = c.per_octave * std::log2(p.lr_min_meas / p.lr_min_kappa);
  return p;
}

CollapseFit fit_rows(const std::vector<const ProbeLayer*>& rows) {
  std::vector<double> e, k;
  for (const ProbeLayer* l : rows) {
    e.push_back(l->elr0());
    k.push_back(l->kappa());
  }
  return fit_collapse(e, k);
}

// The probe rows per (group, step), "all" holding every group's.
std::map<std::pair<std::string, int64_t>, std::vector<const ProbeLayer*>> rows_by_group(const CriticalResult& r) {
  std::map<std::pair<std::string, int64_t>, std::vector<const ProbeLayer*>> out;
  for (const RunProbes& run : r.runs)
    for (const ProbeLayer& l : run.layers) {
      out[{"all", l.step}].push_back(&l);
      out[{run.group, l.step}].push_back(&l);
    }
  return out;
}

std::string number_or_empty(double v) { return std::isfinite(v) ? format_double(v) : std::string(); }

// Geometric mean and range of positive values, as "g [lo, hi]".
std::string geo_range(const std::vector<double>& v) {
  if (v.empty()) return "-";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt::format("{:.3g} [{:.3g}, {:.3g}]", geometric_mean(v), *lo, *hi);
}

// Mean and range, as "m [lo, hi]".
std::string mean_range(const std::vector<double>& v) {
  if (v.empty()) return "-";
  double s = 0;
  for (double x : v) s += x;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt::format("{:+.1f} [{:+.1f}, {:+.1f}]", s / static_cast<double>(v.size()), *lo, *hi);
}

}  // namespace

void validate_critical_config(const CriticalConfig& c) {
  if (c.runs.empty()) throw UserError("critical: give at least one run directory");
  if (c.at.empty()) throw UserError("--at: give at least one step");
  for (int64_t s : c.at)
    if (s < 0) throw UserError(fmt::format("--at: steps must not be negative, got {}", s));
  if (c.batches < 1) throw UserError(fmt::format("--batches: must be at least 1, got {}", c.batches));
  if (!(c.octaves_below >= 0) || !(c.octaves_above >= 0) || c.octaves_below + c.octaves_above <= 0)
    throw UserError(fmt::format("--octaves-below, --octaves-above: they must not be negative and not both 0, got {} and {}",
                                c.octaves_below, c.octaves_above));
  if (c.per_octave < 1) throw UserError(fmt::format("--per-octave: must be at least 1, got {}", c.per_octave));
  if (c.collapse && !(c.collapse->scale > 0))
    throw UserError(fmt::format("--collapse-scale: must be positive, got {}", c.collapse->scale));
  if (c.out.empty()) throw UserError("--out: give the folder of the outputs");
  if (c.threads < 0) throw UserError(fmt::format("--threads: must not be negative, got {}", c.threads));
  std::set<std::string> names;
  for (const std::string& run : c.runs)
    if (!names.insert(base_name(run)).second)
      throw UserError(fmt::format("critical: two runs are named '{}' (their outputs would share a folder)",
                                  base_name(run)));
}

std::vector<double> critical_lr_grid(const CriticalConfig& c, double critical_lr) {
  std::vector<double> grid;
  const int lo = -static_cast<int>(std::llround(c.octaves_below * c.per_octave));
  const int hi = static_cast<int>(std::llround(c.octaves_above * c.per_octave));
  for (int k = lo; k <= hi; ++k) grid.push_back(critical_lr * std::exp2(static_cast<double>(k) / c.per_octave));
  return grid;
}

CriticalResult run_critical(const CriticalConfig& c) {
  validate_critical_config(c);
  if (c.threads > 0) omp_set_num_threads(c.threads);
  CriticalResult result;
  for (const std::string& dir : c.runs) {
    RunProbes r;
    r.run_dir = dir;
    r.name = base_name(dir);
    const std::string config_path = dir + "/config.json";
    const TrainConfig cfg = config_from_json(read_json(config_path), config_path);
    r.group = fmt::format("{}-{}", cfg.model.name, cfg.model.depth);
    r.seed = cfg.seed;
    const std::string probe_dir = c.out + "/" + r.name;
    const nlohmann::json settings = probe_settings(c, dir);
    if (path_exists(probe_dir + "/probe.json") && read_json(probe_dir + "/probe.json") == settings) {
      read_probes(probe_dir, r);
      result.notes.push_back(fmt::format("{}: probes reused from {}", dir, probe_dir));
    } else {
      probe_run(c, r, result.notes);
      write_probes(probe_dir, r, settings);
    }
    result.runs.push_back(std::move(r));
  }

  const auto groups = rows_by_group(result);
  for (const auto& [key, rows] : groups) {
    KappaFitRow f;
    f.group = key.first;
    f.step = key.second;
    try {
      f.fit = fit_rows(rows);
    } catch (const UserError& e) {
      result.notes.push_back(fmt::format("kappa fit of {} at step {}: {}", key.first, key.second, e.what()));
      continue;
    }
    result.fits.push_back(f);
  }
  if (c.collapse) {
    result.law = *c.collapse;
  } else {
    const auto all0 = groups.find({"all", 0});
    if (all0 == groups.end()) throw UserError("critical: no probes at step 0 to fit the collapse on (--at 0)");
    result.law = fit_rows(all0->second).law;
    result.law_fitted = true;
  }
  for (const RunProbes& r : result.runs)
    for (const auto& [step, s] : by_state(r)) result.points.push_back(analyse_state(c, r, step, s, result.law));
  return result;
}

void write_critical_outputs(const CriticalConfig& c, const CriticalResult& r) {
  make_directories(c.out);
  std::string summary =
      "run,group,seed,step,batches,critical_lr,lr_min_meas,spread_min_meas,at_grid_edge,lr_min_model,lr_min_kappa,"
      "steps_model,steps_kappa\n";
  for (const CriticalPoint& p : r.points)
    summary += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", p.run, p.group, p.seed, p.step, p.batches,
                           format_double(p.critical_lr), format_double(p.lr_min_meas),
                           format_double(p.spread_min_meas), p.at_grid_edge ? 1 : 0, format_double(p.lr_min_model),
                           format_double(p.lr_min_kappa), format_double(p.steps_model),
                           format_double(p.steps_kappa));
  write_file_atomic(c.out + "/critical_summary.csv", summary);

  std::string fits = "group,step,points,scale,power,rms_log10,used\n";
  for (const KappaFitRow& f : r.fits)
    fits += fmt::format("{},{},{},{},{},{},{}\n", f.group, f.step, f.fit.points, format_double(f.fit.law.scale),
                        format_double(f.fit.law.power), format_double(f.fit.rms_log10),
                        r.law_fitted && f.group == "all" && f.step == 0 ? 1 : 0);
  if (!r.law_fitted)
    fits += fmt::format("given,,,{},{},,1\n", format_double(r.law.scale), format_double(r.law.power));
  write_file_atomic(c.out + "/kappa_fit.csv", fits);

  // kappa in half-octave bins of the step's ELR E_0, per group and step.
  std::string bins = "group,step,elr_center,points,zero,kappa_geomean,kappa_p10,kappa_median,kappa_p90,kappa_law\n";
  for (const auto& [key, rows] : rows_by_group(r)) {
    std::map<int, std::vector<double>> by_bin;
    std::map<int, int> zeros;
    for (const ProbeLayer* l : rows) {
      const double e = l->elr0(), k = l->kappa();
      if (!(e > 0) || !std::isfinite(k)) continue;
      const int bin = static_cast<int>(std::floor(2 * std::log2(e)));
      if (k > 0)
        by_bin[bin].push_back(k);
      else
        ++zeros[bin];
    }
    for (auto& [bin, ks] : by_bin) {
      std::sort(ks.begin(), ks.end());
      auto q = [&](double f) { return ks[static_cast<size_t>(f * static_cast<double>(ks.size() - 1) + 0.5)]; };
      const double center = std::exp2((bin + 0.5) / 2);
      bins += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", key.first, key.second, format_double(center), ks.size(),
                          zeros[bin], format_double(geometric_mean(ks)), format_double(q(0.1)), format_double(q(0.5)),
                          format_double(q(0.9)), format_double(r.law.kappa(center)));
    }
  }
  write_file_atomic(c.out + "/kappa_bins.csv", bins);

  // Per run: the post-step spread per probe, measured and predicted by both models.
  for (const RunProbes& run : r.runs) {
    std::string s = "step,batch,lr,critical_lr,spread_meas,spread_model,spread_kappa,loss0,loss1\n";
    std::map<std::tuple<int64_t, int64_t, double>, const ProbeLoss*> losses;
    for (const ProbeLoss& l : run.losses) losses[{l.step, l.batch, l.lr}] = &l;
    for (const auto& [step, st] : by_state(run))
      for (const auto& [b, per_lr] : st.e1) {
        const std::vector<double>& e0 = st.e0.at(b);
        for (const auto& [lr, e1] : per_lr) {
          const auto loss = losses.find({step, b, lr});
          s += fmt::format("{},{},{},{},{},{},{},{},{}\n", step, b, format_double(lr),
                           format_double(critical_lr_of(e0)), number_or_empty(spread_of(e1)),
                           number_or_empty(one_step_spread(e0, lr, CollapseLaw{})),
                           number_or_empty(one_step_spread(e0, lr, r.law)),
                           loss == losses.end() ? "" : format_double(loss->second->loss0),
                           loss == losses.end() ? "" : format_double(loss->second->loss1));
        }
      }
    write_file_atomic(c.out + "/" + run.name + "/spread.csv", s);
  }
}

std::string format_critical_table(const CriticalConfig& c, const CriticalResult& r) {
  std::string out = fmt::format(
      "critical: one plain-SGD step per lr on a 2^(1/{}) grid around 1/sqrt(e_max e_min), {} batch(es) per state;\n"
      "post-step spread = max/min ELR on the next batch. Minima: measured on the grid (geometric mean over the\n"
      "batches); model = constant c; kappa = with the collapse kappa(E) = (1 + (E/{:.4g})^2)^(-{:.4g}/2) ({}).\n"
      "Per group and step: geometric mean [range] over the runs; distance measured/predicted in grid steps.\n",
      c.per_octave, c.batches, r.law.scale, r.law.power, r.law_fitted ? "fitted on these runs' step-0 probes" : "given");
  out += fmt::format("{:<22} {:>6} {:>4}  {:<26} {:<26} {:<26} {:<22} {:<22}\n", "group", "step", "runs",
                     "critical lr", "measured minimum", "kappa-model minimum", "steps to model", "steps to kappa");
  std::map<std::pair<std::string, int64_t>, std::vector<const CriticalPoint*>> groups;
  for (const CriticalPoint& p : r.points) groups[{p.group, p.step}].push_back(&p);
  for (const auto& [key, points] : groups) {
    std::vector<double> crit, meas, kappa, sm, sk;
    int edges = 0;
    for (const CriticalPoint* p : points) {
      crit.push_back(p->critical_lr);
      meas.push_back(p->lr_min_meas);
      kappa.push_back(p->lr_min_kappa);
      sm.push_back(p->steps_model);
      sk.push_back(p->steps_kappa);
      edges += p->at_grid_edge;
    }
    out += fmt::format("{:<22} {:>6} {:>4}  {:<26} {:<26} {:<26} {:<22} {:<22}{}\n", key.first, key.second,
                       points.size(), geo_range(crit), geo_range(meas), geo_range(kappa), mean_range(sm),
                       mean_range(sk), edges ? fmt::format("  ({} at the grid's edge)", edges) : "");
  }
  out += "\nkappa fits (least squares in log kappa, kappa = c_1 / c_0 on the same batch):\n";
  out += fmt::format("{:<22} {:>6} {:>8} {:>10} {:>8} {:>10}\n", "group", "step", "points", "scale", "power",
                     "rms log10");
  for (const KappaFitRow& f : r.fits)
    out += fmt::format("{:<22} {:>6} {:>8} {:>10.4g} {:>8.4g} {:>10.3f}\n", f.group, f.step, f.fit.points,
                       f.fit.law.scale, f.fit.law.power, f.fit.rms_log10);
  for (const std::string& n : r.notes) out += "note: " + n + "\n";
  return out;
}

}  // namespace elr
