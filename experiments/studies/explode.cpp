#include "experiments/studies/explode.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/files.h"
#include "experiments/data/data_loader.h"
#include "experiments/run/progress.h"
#include "layers/models.h"
#include "optim/host_train_step.h"

namespace elr {

namespace {

double norm2(const Tensor& t) {
  const float* a = t.data();
  double s = 0;
  for (int64_t i = 0, n = t.numel(); i < n; ++i) s += static_cast<double>(a[i]) * a[i];
  return s;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double std_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

// Watches the backward pass (tape observer) and records, per BN node and per conv node, the
// gradient-norm amplification |dL/dx| / |dL/dy| across that node's backward. An input used by
// several nodes (a ResNet block input feeds the residual branch and the shortcut) accumulates
// several contributions, so each node's own dL/dx is its input's gradient after the node minus a
// snapshot taken after the previous node that touched that input.
class BackwardAmplification {
 public:
  explicit BackwardAmplification(const std::vector<Parameter*>& params)
      : bn_ln(params.size()), conv_ln(params.size()) {
    for (size_t i = 0; i < params.size(); ++i) {
      parameters_.insert(params[i]->value.raw());
      weight_index_[params[i]->value.raw()] = static_cast<int>(i);
    }
  }

  void observe(const autograd::Node& n) {
    if (n.op == "batch_norm") {
      const double ln = log_amplification(n);
      if (std::isfinite(ln)) {
        all_bn_ln.push_back(ln);
        pending_bn_[n.inputs[0].raw()] = ln;
      }
    } else if (n.op == "conv2d") {
      const auto w = weight_index_.find(n.inputs[1].raw());
      const int layer = w == weight_index_.end() ? -1 : w->second;
      // The BN that consumed this conv's output ran just before: attribute it to this layer.
      const auto bn = pending_bn_.find(n.outputs[0].raw());
      if (bn != pending_bn_.end()) {
        if (layer >= 0) bn_ln[layer].push_back(bn->second);
        pending_bn_.erase(bn);
      }
      const double ln = log_amplification(n);
      if (std::isfinite(ln)) {
        all_conv_ln.push_back(ln);
        if (layer >= 0) conv_ln[layer].push_back(ln);
      }
    }
    // The outputs' gradients are complete now; the inputs' gradients so far are the baseline for
    // the next node that adds to them.
    for (const Tensor& out : n.outputs) snapshots_.erase(out.raw());
    for (const Tensor& in : n.inputs) {
      if (!in.requires_grad() || !in.has_grad() || parameters_.count(in.raw())) continue;
      const Tensor g = in.grad();
      snapshots_[in.raw()].assign(g.data(), g.data() + g.numel());
    }
  }

  void end_pass() {
    snapshots_.clear();
    pending_bn_.clear();
  }

  std::vector<std::vector<double>> bn_ln, conv_ln;  // per parameter index: ln amplification samples
  std::vector<double> all_bn_ln, all_conv_ln;

 private:
  // ln(|dL/dx| / |dL/dy|) for input 0 and output 0, NaN when either is missing or zero.
  double log_amplification(const autograd::Node& n) const {
    const double nan = std::nan("");
    if (!n.inputs[0].requires_grad() || !n.inputs[0].has_grad()) return nan;
    const Tensor dy = n.output_grad(0);
    if (!dy.defined()) return nan;
    const double y2 = norm2(dy);
    const double x2 = own_grad_norm2(n.inputs[0]);
    if (!(y2 > 0) || !(x2 > 0)) return nan;
    return 0.5 * std::log(x2 / y2);
  }

  double own_grad_norm2(const Tensor& input) const {
    const Tensor g = input.grad();
    const auto s = snapshots_.find(input.raw());
    if (s == snapshots_.end()) return norm2(g);
    const float* a = g.data();
    const float* b = s->second.data();
    double sum = 0;
    for (int64_t i = 0, n = g.numel(); i < n; ++i) {
      const double d = static_cast<double>(a[i]) - b[i];
      sum += d * d;
    }
    return sum;
  }

  std::unordered_set<const void*> parameters_;
  std::unordered_map<const void*, int> weight_index_;
  std::unordered_map<const void*, std::vector<float>> snapshots_;
  std::unordered_map<const void*, double> pending_bn_;  // BN input (a conv's output) -> ln amplification
};

std::string amp_text(double v) { return v > 0 ? fmt::format("{:.4f}", v) : std::string("-"); }
std::string csv_amp(double v) { return v > 0 ? format_double(v) : std::string(); }

}  // namespace

void validate_explode_config(const ExplodeConfig& c) {
  if (c.depths.empty()) throw UserError("--depths: give at least one depth");
  for (int d : c.depths) {
    ModelConfig mc;
    mc.name = c.model;
    mc.depth = d;
    mc.width = c.width;
    validate_model_config(mc);
  }
  validate_dataset_choice(c.dataset, c.data_dir);
  if (c.batch < 2) throw UserError(fmt::format("--batch: must be at least 2 (batch norm), got {}", c.batch));
  if (c.batches < 1) throw UserError(fmt::format("--batches: must be at least 1, got {}", c.batches));
  if (c.seeds.empty()) throw UserError("--seeds: give at least one seed");
  if (c.synthetic_size < 4) throw UserError(fmt::format("--synthetic-size: must be at least 4, got {}", c.synthetic_size));
  if (c.threads < 0) throw UserError(fmt::format("--threads: must not be negative, got {}", c.threads));
}

Dataset load_explode_dataset(const ExplodeConfig& c) {
  return load_named_dataset(c.dataset, c.data_dir, true, c.synthetic_size, 1000003, c.image_folder);
}

LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  ELR_CHECK(x.size() == y.size(), "fit_line: {} x values but {} y values", x.size(), y.size());
  LineFit f;
  const size_t n = x.size();
  if (n == 0) return f;
  const double mx = mean_of(x), my = mean_of(y);
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  f.slope = sxx > 0 ? sxy / sxx : 0.0;
  f.intercept = my - f.slope * mx;
  f.r2 = (sxx > 0 && syy > 0) ? (sxy * sxy) / (sxx * syy) : 1.0;
  return f;
}

ExplodeResult run_explode(const ExplodeConfig& c) {
  validate_explode_config(c);
  if (c.threads > 0) omp_set_num_threads(c.threads);
  const Dataset data = load_explode_dataset(c);
  if (data.size() < c.batch)
    throw UserError(fmt::format("--batch: {} is larger than the training set ({} images)", c.batch, data.size()));
  const Normalization norm = channel_normalization(data);

  ExplodeResult result;
  const int64_t passes = static_cast<int64_t>(c.depths.size() * c.seeds.size()) * c.batches;
  Progress progress(passes, c.progress);
  int64_t done = 0;
  for (int depth : c.depths) {
    const auto start = std::chrono::steady_clock::now();
    ModelConfig mc;
    mc.name = c.model;
    mc.depth = depth;
    mc.width = c.width;
    mc.in_channels = data.channels;
    mc.image_size = data.height;
    mc.classes = data.classes;

    std::vector<ExplodeLayer> layers;
    std::vector<std::vector<double>> ln_e, ln_g, bn_ln, conv_ln;
    std::vector<double> all_bn_ln, all_conv_ln;
    for (size_t s = 0; s < c.seeds.size(); ++s) {
      std::shared_ptr<Module> model = build_model(mc);
      model->reset_parameters(c.seeds[s]);
      model->train(true);  // batch statistics, as in a training step
      const std::vector<Parameter*> params = model->parameters();
      if (s == 0) {
        for (size_t i = 0; i < params.size(); ++i) {
          if (!params[i]->scale_invariant) continue;
          ExplodeLayer l;
          l.depth = depth;
          l.index = static_cast<int>(layers.size());
          l.param_index = static_cast<int>(i);
          l.name = params[i]->name;
          l.numel = params[i]->value.numel();
          layers.push_back(l);
        }
        ln_e.resize(layers.size());
        ln_g.resize(layers.size());
        bn_ln.resize(layers.size());
        conv_ln.resize(layers.size());
      }
      for (ExplodeLayer& l : layers) l.w2 += norm2(params[l.param_index]->value) / static_cast<double>(c.seeds.size());

      DataLoader loader(data, c.batch, c.seeds[s], true, false, true, norm, false);
      BackwardAmplification amp(params);
      Sgd sgd(params, SgdConfig{});  // never steps: the gradients are taken at initialization
      HostTrainStep step(*model, sgd);
      for (int64_t b = 0; b < c.batches; ++b) {
        const Batch batch = loader.make_batch(b / loader.batches_per_epoch(), b % loader.batches_per_epoch());
        step.gradients(batch, [&](const autograd::Node& n) { amp.observe(n); });
        amp.end_pass();
        for (size_t k = 0; k < layers.size(); ++k) {
          const Parameter& p = *params[layers[k].param_index];
          ELR_CHECK(p.value.has_grad(), "explode: parameter '{}' got no gradient", p.name);
          const double w2 = norm2(p.value), g2 = norm2(p.value.grad());
          ln_g[k].push_back(0.5 * std::log(g2));
          ln_e[k].push_back(0.5 * std::log(g2 / w2));
        }
        progress.update(++done, fmt::format("{}-{} seed {} batch {}/{}", c.model, depth, c.seeds[s], b + 1, c.batches));
      }
      for (size_t k = 0; k < layers.size(); ++k) {
        const auto& bs = amp.bn_ln[layers[k].param_index];
        const auto& cs = amp.conv_ln[layers[k].param_index];
        bn_ln[k].insert(bn_ln[k].end(), bs.begin(), bs.end());
        conv_ln[k].insert(conv_ln[k].end(), cs.begin(), cs.end());
      }
      all_bn_ln.insert(all_bn_ln.end(), amp.all_bn_ln.begin(), amp.all_bn_ln.end());
      all_conv_ln.insert(all_conv_ln.end(), amp.all_conv_ln.begin(), amp.all_conv_ln.end());
    }

    std::vector<double> xs, ys;
    for (size_t k = 0; k < layers.size(); ++k) {
      ExplodeLayer& l = layers[k];
      l.g_norm = std::exp(mean_of(ln_g[k]));
      l.e = std::exp(mean_of(ln_e[k]));
      l.log10_e_std = std_of(ln_e[k]) / std::log(10.0);
      l.bn_amp = bn_ln[k].empty() ? 0.0 : std::exp(mean_of(bn_ln[k]));
      l.conv_amp = conv_ln[k].empty() ? 0.0 : std::exp(mean_of(conv_ln[k]));
      xs.push_back(static_cast<double>(l.index));
      ys.push_back(std::log10(l.e));
    }
    ExplodeDepth d;
    d.depth = depth;
    d.layers = static_cast<int>(layers.size());
    const LineFit fit = fit_line(xs, ys);
    d.growth_log10 = -fit.slope;
    d.growth_factor = std::pow(10.0, d.growth_log10);
    d.fit_r2 = fit.r2;
    d.e_first_last = layers.empty() || !(layers.back().e > 0) ? 0.0 : layers.front().e / layers.back().e;
    d.bn_amp = all_bn_ln.empty() ? 0.0 : std::exp(mean_of(all_bn_ln));
    d.conv_amp = all_conv_ln.empty() ? 0.0 : std::exp(mean_of(all_conv_ln));
    d.bn_nodes = static_cast<int64_t>(all_bn_ln.size());
    d.conv_nodes = static_cast<int64_t>(all_conv_ln.size());
    d.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.depths.push_back(d);
    result.layers.insert(result.layers.end(), layers.begin(), layers.end());
  }
  progress.finish();
  return result;
}

std::string format_explode_table(const ExplodeConfig& c, const ExplodeResult& r) {
  std::string seeds;
  for (uint64_t s : c.seeds) seeds += (seeds.empty() ? "" : " ") + std::to_string(s);
  const int width = c.width > 0 ? c.width : default_width(c.model);
  std::string out = fmt::format(
      "explode: {} (width {}) on {}, batch {} x {} batches x seeds [{}], at initialization, BN in train mode\n"
      "e = |g|/|W| per scale-invariant layer (geometric mean over batches and seeds); growth = -slope of\n"
      "log10 e against the layer index (0 = input side), so growth > 0 means e grows toward the input.\n"
      "amp = geometric mean of |dL/dx| / |dL/dy| across one node's backward (BN incl. its fused ReLU).\n",
      c.model, width, c.dataset, c.batch, c.batches, seeds);
  out += fmt::format("{:>6} {:>7} {:>13} {:>11} {:>6} {:>13} {:>11} {:>12} {:>9}\n", "depth", "layers", "growth/layer",
                     "factor", "R^2", "e first/last", "BN-bwd amp", "conv-bwd amp", "BN*conv");
  for (const ExplodeDepth& d : r.depths) {
    const double product = d.bn_amp > 0 && d.conv_amp > 0 ? d.bn_amp * d.conv_amp : 0.0;
    out += fmt::format("{:>6} {:>7} {:>13.5f} {:>11.4f} {:>6.3f} {:>13.4g} {:>11} {:>12} {:>9}\n", d.depth, d.layers,
                       d.growth_log10, d.growth_factor, d.fit_r2, d.e_first_last, amp_text(d.bn_amp),
                       amp_text(d.conv_amp), amp_text(product));
  }
  return out;
}

void write_explode_csv(const std::string& dir, const ExplodeResult& r) {
  make_directories(dir);
  std::string layers = "depth,index,param_index,name,numel,w2,g_norm,e,log10_e,log10_e_std,bn_amp,conv_amp\n";
  for (const ExplodeLayer& l : r.layers)
    layers += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}\n", l.depth, l.index, l.param_index, l.name, l.numel,
                          format_double(l.w2), format_double(l.g_norm), format_double(l.e),
                          l.e > 0 ? format_double(std::log10(l.e)) : "", format_double(l.log10_e_std),
                          csv_amp(l.bn_amp), csv_amp(l.conv_amp));
  std::string summary =
      "depth,layers,growth_log10,growth_factor,fit_r2,e_first_last,bn_amp,conv_amp,bn_nodes,conv_nodes,seconds\n";
  for (const ExplodeDepth& d : r.depths)
    summary += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", d.depth, d.layers, format_double(d.growth_log10),
                           format_double(d.growth_factor), format_double(d.fit_r2), format_double(d.e_first_last),
                           csv_amp(d.bn_amp), csv_amp(d.conv_amp), d.bn_nodes, d.conv_nodes, format_double(d.seconds));
  write_file_atomic(dir + "/explode_layers.csv", layers);
  write_file_atomic(dir + "/explode_summary.csv", summary);
}

}  // namespace elr
