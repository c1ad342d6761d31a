// The GPU kernel suite: the CPU suite's layer shapes of the CIFAR nets (experiments/bench.h),
// deduplicated across nets, plus a few large shapes; each shape benchmarked for every kernel that
// runs at it.
#include <map>

#include "bench/cpu/kernel_bench.h"
#include "bench/gpu/gpu_bench.h"
#include "bench/gpu/kernel_rows.h"
#include "tests/op_cases.h"

namespace elr::bench::gpu {

namespace {

// Shapes in first-use order, each with the nets that use it.
template <class V>
class Dedup {
 public:
  void note(const std::string& key, const V& value, const std::string& net) {
    auto it = index_.find(key);
    if (it == index_.end()) {
      index_.emplace(key, entries_.size());
      entries_.push_back({value, {net}});
    } else if (entries_[it->second].second.back() != net) {
      entries_[it->second].second.push_back(net);
    }
  }
  const std::vector<std::pair<V, std::vector<std::string>>>& entries() const { return entries_; }

 private:
  std::map<std::string, size_t> index_;
  std::vector<std::pair<V, std::vector<std::string>>> entries_;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// The CPU suite's quick subset: every shape of resnet-20/56 and plain-20 (the step nets), and
// vgg-11's first two shapes of each kind that only vgg-11 uses.
class Subset {
 public:
  explicit Subset(bool full) : full_(full) {}
  bool wanted(const std::vector<std::string>& users) {
    if (full_) return true;
    for (const auto& u : users)
      if (u != "vgg-11") return true;
    return vgg_only_++ < 2;
  }

 private:
  bool full_;
  int vgg_only_ = 0;
};

}  // namespace

GpuShapeSet gpu_suite_shapes(int batch, bool full, bool large) {
  GpuShapeSet set;
  Dedup<Conv2dShape> convs;
  Dedup<std::pair<BatchNormShape, bool>> bns;
  Dedup<PoolShape> maxpools, avgpools;
  Dedup<LinearShape> linears;
  const auto nets = kernel_suite_nets();
  for (const auto& [label, mc] : nets) {
    for (const ConvLayer& l : conv_layers(mc, batch)) {
      convs.note(testing::case_name(l.conv), l.conv, label);
      const BatchNormShape bn{l.conv.n, l.conv.k, l.conv.p() * l.conv.q()};
      bns.note(testing::case_name(bn) + (l.relu ? "+relu" : ""), {bn, l.relu}, label);
    }
    for (const PoolShape& p : maxpool_inputs(mc, batch)) maxpools.note(testing::case_name(p), p, label);
    const PoolShape gap = avgpool_input(mc, batch);
    avgpools.note(testing::case_name(gap), gap, label);
    const LinearShape fc{batch, gap.c, mc.classes};
    linears.note(testing::case_name(fc), fc, label);
  }
  {
    Subset subset(full);
    for (const auto& [s, users] : convs.entries())
      if (subset.wanted(users)) set.convs.push_back({s, join(users)});
  }
  {
    Subset subset(full);
    for (const auto& [s, users] : bns.entries())
      if (subset.wanted(users)) set.bns.push_back({s.first, s.second, join(users)});
  }
  {
    Subset subset(full);
    for (const auto& [s, users] : maxpools.entries())
      if (subset.wanted(users)) set.maxpools.push_back({s, join(users)});
  }
  for (const auto& [s, users] : avgpools.entries()) set.avgpools.push_back({s, join(users)});
  for (const auto& [s, users] : linears.entries()) set.linears.push_back({s, join(users)});
  std::vector<std::string> all;
  for (const auto& [label, mc] : nets) all.push_back(label);
  set.losses.push_back({CrossEntropyShape{batch, 10}, join(all)});
  for (const auto& [label, mc] : nets) {
    if (!full && label == "vgg-11") continue;
    set.param_lists.push_back({parameter_sizes(mc), label});
  }

  if (large) {
    // Tensors far larger than the L2: here % of HBM / FP32 peak is the yardstick.
    set.convs.push_back({Conv2dShape{256, 128, 32, 32, 128, 3, 3, 1, 1}, "large"});
    if (full) set.convs.push_back({Conv2dShape{128, 256, 16, 16, 256, 3, 3, 1, 1}, "large"});
    set.bns.push_back({BatchNormShape{256, 128, 32 * 32}, true, "large"});
    if (full) set.bns.push_back({BatchNormShape{256, 256, 32 * 32}, false, "large"});
    set.maxpools.push_back({PoolShape{256, 128, 32, 32}, "large"});
    set.avgpools.push_back({PoolShape{256, 512, 8, 8}, "large"});
    set.losses.push_back({CrossEntropyShape{4096, 1000}, "large"});
    set.linears.push_back({LinearShape{2048, 1024, 1024}, "large"});
    set.param_lists.push_back({std::vector<int64_t>(8, int64_t(1) << 22), "large"});
  }
  return set;
}

std::vector<GpuKernelRow> run_gpu_kernel_suite(const GpuKernelSuiteConfig& c) {
  RowRunner rr(c.stream, c.options);
  std::vector<GpuKernelRow> rows;
  auto emit = [&](GpuKernelRow r) {
    if (c.on_row) c.on_row(r);
    rows.push_back(std::move(r));
  };
  const GpuKernels& k = c.kernels;
  const VendorKernels& v = c.vendor;
  for (const auto& u : c.shapes.convs) {
    emit(conv_forward_row(rr, u, k.conv_forward, v.conv_forward, v.conv_name));
    emit(conv_backward_data_row(rr, u, k.conv_backward_data, v.conv_backward_data, v.conv_name));
    emit(conv_backward_weight_row(rr, u, k.conv_backward_weight, v.conv_backward_weight, v.conv_name));
  }
  for (const auto& u : c.shapes.bns) {
    emit(bn_forward_row(rr, u, k.bn_forward, v.bn_forward, v.bn_name));
    emit(bn_backward_row(rr, u, k.bn_backward, v.bn_backward, v.bn_name));
  }
  for (const auto& u : c.shapes.maxpools) {
    emit(maxpool_forward_row(rr, u, k.maxpool_forward));
    emit(maxpool_backward_row(rr, u, k.maxpool_backward));
  }
  for (const auto& u : c.shapes.avgpools) {
    emit(avgpool_forward_row(rr, u, k.avgpool_forward));
    emit(avgpool_backward_row(rr, u, k.avgpool_backward));
  }
  for (const auto& u : c.shapes.losses) {
    emit(cross_entropy_forward_row(rr, u, k.cross_entropy_forward));
    emit(cross_entropy_backward_row(rr, u, k.cross_entropy_backward));
  }
  for (const auto& u : c.shapes.linears) {
    emit(linear_forward_row(rr, u, k.linear_forward, v.linear_forward, v.linear_name));
    emit(linear_backward_row(rr, u, k.linear_backward, v.linear_backward, v.linear_name));
  }
  for (const auto& u : c.shapes.param_lists) {
    emit(tensor_stats_row(rr, u, k.tensor_stats));
    emit(sgd_update_row(rr, u, k.sgd_update));
  }
  return rows;
}

int validation_failures(const std::vector<GpuKernelRow>& rows) {
  int n = 0;
  for (const GpuKernelRow& r : rows) n += r.valid ? 0 : 1;
  return n;
}

}  // namespace elr::bench::gpu
