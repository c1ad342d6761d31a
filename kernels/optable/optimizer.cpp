// Optimizer cases over a list of parameter tensors: the per-tensor statistics and the SGD update
// (PyTorch's rule) as double loops. The CPU entries call the kernel once per tensor; the CUDA
// entries run one multi-tensor launch over the whole list, as the training step does.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "kernels/optable/ops.h"
#include "kernels/optable/random.h"

namespace elr::kernels {

namespace {

std::vector<int64_t> offsets_of(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> offsets(sizes.size(), 0);
  for (size_t t = 1; t < sizes.size(); ++t) offsets[t] = offsets[t - 1] + sizes[t - 1];
  return offsets;
}

int64_t largest(const std::vector<int64_t>& sizes) {
  return sizes.empty() ? 1 : std::max<int64_t>(1, *std::max_element(sizes.begin(), sizes.end()));
}

}  // namespace

TensorListCase::TensorListCase(std::vector<int64_t> sizes_, std::string label_)
    : sizes(std::move(sizes_)),
      offsets(offsets_of(sizes)),
      total(std::accumulate(sizes.begin(), sizes.end(), int64_t(0))),
      label(std::move(label_)) {}

std::string TensorListCase::name() const {
  return fmt::format("{} ({} tensors, {} values)", label, sizes.size(), total);
}

Values TensorListCase::list_values(int which, float lo, float hi) const {
  Values out;
  out.reserve(total);
  for (size_t t = 0; t < sizes.size(); ++t) {
    const Values v = random_values(sizes[t], uint32_t(100 + 3 * t + which), lo, hi);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// ---- statistics ---------------------------------------------------------------------------------------
TensorStatsCase::TensorStatsCase(std::vector<int64_t> sizes_, std::string label_, bool momentum_buffers_)
    : TensorListCase(std::move(sizes_), std::move(label_)), momentum_buffers(momentum_buffers_) {}

Op TensorStatsCase::op() const { return Op::TensorStats; }
std::string TensorStatsCase::kernel() const {
  return momentum_buffers ? "layer statistics" : "layer statistics (no momentum buffers)";
}
double TensorStatsCase::bytes() const { return 12.0 * total; }

std::vector<TensorSpec> TensorStatsCase::tensors() const {
  std::vector<TensorSpec> t = {in_tensor("w", {total}), in_tensor("g", {total})};
  if (momentum_buffers) t.push_back(in_tensor("v", {total}));
  t.push_back(out_tensor("stats", {tensors_in_list(), 4}, largest(sizes), DType::F64));
  return t;
}

std::vector<Values> TensorStatsCase::make_inputs() const {
  std::vector<Values> in = {list_values(0, -1.0f, 1.0f), list_values(1, -0.1f, 0.1f)};
  if (momentum_buffers) in.push_back(list_values(2, -0.2f, 0.2f));
  in.emplace_back();
  return in;
}

std::vector<Expected> TensorStatsCase::reference(const std::vector<Values>& in) const {
  const Values &w = in[0], &g = in[1];
  Values stats(4 * sizes.size(), 0.0);
  for (size_t t = 0; t < sizes.size(); ++t)
    for (int64_t i = offsets[t]; i < offsets[t] + sizes[t]; ++i) {
      stats[4 * t + 0] += w[i] * w[i];
      stats[4 * t + 1] += g[i] * g[i];
      stats[4 * t + 2] += g[i] * w[i];
      if (momentum_buffers) stats[4 * t + 3] += in[2][i] * in[2][i];
    }
  std::vector<Expected> out(in.size());
  out.back() = {stats, {}};
  return out;
}

void TensorStatsCase::cpu(const OpArgs& a) const {
  const float* v = momentum_buffers ? a.at<float>(2) : nullptr;
  TensorStats* stats = a.at<TensorStats>(momentum_buffers ? 3 : 2);
  for (size_t t = 0; t < sizes.size(); ++t)
    stats[t] = tensor_stats_cpu(sizes[t], a.at<float>(0) + offsets[t], a.at<float>(1) + offsets[t],
                                v ? v + offsets[t] : nullptr);
}

// ---- SGD ----------------------------------------------------------------------------------------------
SgdCase::SgdCase(std::vector<int64_t> sizes_, std::string label_, const SgdParams& params_, bool per_tensor_lr_)
    : TensorListCase(std::move(sizes_), std::move(label_)), params(params_), per_tensor_lr(per_tensor_lr_) {}

Op SgdCase::op() const { return Op::SgdUpdate; }

// "sgd update (momentum 0.9, wd)": the settings that differ from plain SGD.
std::string SgdCase::kernel() const {
  std::vector<std::string> parts;
  if (momentum()) parts.push_back(fmt::format("momentum {:g}{}", params.momentum, params.nesterov ? " nesterov" : ""));
  if (params.weight_decay != 0) parts.push_back("wd");
  if (momentum() && params.first_step) parts.push_back("first step");
  if (per_tensor_lr) parts.push_back("per-tensor lr");
  std::string s = "sgd update";
  for (size_t i = 0; i < parts.size(); ++i) s += (i == 0 ? " (" : ", ") + parts[i];
  return parts.empty() ? s : s + ")";
}

double SgdCase::bytes() const { return 20.0 * total; }

std::vector<TensorSpec> SgdCase::tensors() const {
  std::vector<TensorSpec> t = {inout_tensor("w", {total}), in_tensor("g", {total})};
  if (momentum()) t.push_back(inout_tensor("v", {total}));
  if (per_tensor_lr) t.push_back(in_tensor("lrs", {tensors_in_list()}, DType::F64));
  t.push_back(out_tensor("dw2", {tensors_in_list()}, largest(sizes), DType::F64));
  return t;
}

// The per-tensor learning rates of the LR-controlled step: 0.05 + 0.01 t.
std::vector<Values> SgdCase::make_inputs() const {
  std::vector<Values> in = {list_values(0, -1.0f, 1.0f), list_values(1, -0.1f, 0.1f)};
  if (momentum()) in.push_back(list_values(2, -0.2f, 0.2f));  // a stale buffer on the first step
  if (per_tensor_lr) {
    Values lrs;
    for (size_t t = 0; t < sizes.size(); ++t) lrs.push_back(0.05 + 0.01 * double(t));
    in.push_back(lrs);
  }
  in.emplace_back();
  return in;
}

std::vector<Expected> SgdCase::reference(const std::vector<Values>& in) const {
  Values w = in[0], v = momentum() ? in[2] : Values(), dw2(sizes.size(), 0.0);
  const Values& g = in[1];
  const double m = params.momentum, wd = params.weight_decay;
  for (size_t t = 0; t < sizes.size(); ++t) {
    const double lr = per_tensor_lr ? double(float(in[lrs_index()][t])) : double(params.lr);
    for (int64_t i = offsets[t]; i < offsets[t] + sizes[t]; ++i) {
      double d = g[i] + wd * w[i];
      if (momentum()) {
        v[i] = params.first_step ? d : m * v[i] + d;
        d = params.nesterov ? d + m * v[i] : v[i];
      }
      w[i] -= lr * d;
      dw2[t] += (lr * d) * (lr * d);
    }
  }
  std::vector<Expected> out(in.size());
  out[0] = {w, {}};
  if (momentum()) out[2] = {v, {}};
  out.back() = {dw2, {}};
  return out;
}

void SgdCase::cpu(const OpArgs& a) const {
  float* v = momentum() ? a.at<float>(2) : nullptr;
  const double* lrs = per_tensor_lr ? a.at<double>(lrs_index()) : nullptr;
  double* dw2 = a.at<double>(dw2_index());
  for (size_t t = 0; t < sizes.size(); ++t) {
    SgdParams p = params;
    if (lrs) p.lr = float(lrs[t]);
    dw2[t] = sgd_update_cpu(sizes[t], p, a.at<float>(0) + offsets[t], a.at<float>(1) + offsets[t],
                            v ? v + offsets[t] : nullptr);
  }
}

}  // namespace elr::kernels
