#include "kernels/optable/case_lists.h"

#include <map>

#include "kernels/optable/networks.h"
#include "kernels/optable/ops.h"

namespace elr::kernels {

namespace {

void append(std::vector<OpCasePtr>& to, const std::vector<OpCasePtr>& cases) {
  to.insert(to.end(), cases.begin(), cases.end());
}

SgdParams sgd_params(float momentum, float weight_decay, bool nesterov, bool first_step) {
  SgdParams p;
  p.lr = 0.1f;
  p.momentum = momentum;
  p.weight_decay = weight_decay;
  p.nesterov = nesterov;
  p.first_step = first_step;
  return p;
}

// Shapes in first-use order, each with the nets that use it.
template <class Shape>
class Dedup {
 public:
  void note(const std::string& key, const Shape& shape, const std::string& net) {
    auto it = index_.find(key);
    if (it == index_.end()) {
      index_.emplace(key, entries_.size());
      entries_.push_back({shape, {net}});
    } else if (entries_[it->second].nets.back() != net) {
      entries_[it->second].nets.push_back(net);
    }
  }
  struct Entry {
    Shape shape;
    std::vector<std::string> nets;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::map<std::string, size_t> index_;
  std::vector<Entry> entries_;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// The quick subset: every shape of the quick nets (in_quick_subset), and of the shapes only other
// nets use, the first two of each such net.
class Subset {
 public:
  explicit Subset(bool full) : full_(full) {}
  bool wanted(const std::vector<std::string>& nets) {
    if (full_) return true;
    for (const auto& n : nets)
      if (in_quick_subset(n)) return true;
    return taken_[nets.front()]++ < 2;
  }

 private:
  bool full_;
  std::map<std::string, int> taken_;
};

struct BnUse {
  BatchNormShape shape;
  bool relu;
};

}  // namespace

std::vector<OpCasePtr> small_cases() {
  std::vector<OpCasePtr> out;
  using C = Conv2dShape;
  for (const C& s : {C{2, 3, 5, 5, 4, 3, 3, 1, 1}, C{1, 1, 7, 6, 2, 3, 3, 1, 1}, C{2, 2, 7, 7, 3, 3, 3, 2, 1},
                     C{2, 4, 6, 5, 3, 1, 1, 1, 0}, C{2, 3, 7, 9, 2, 1, 1, 2, 0}, C{1, 2, 5, 5, 2, 3, 3, 1, 0},
                     C{3, 2, 4, 4, 5, 3, 3, 2, 1}, C{1, 5, 3, 3, 1, 3, 3, 1, 1}, C{2, 3, 11, 9, 4, 7, 7, 2, 3},
                     C{1, 6, 4, 3, 8, 1, 1, 1, 0}})
    append(out, conv2d_cases(s));
  using B = BatchNormShape;
  for (const B& s : {B{4, 3, 5}, B{2, 1, 9}, B{3, 5, 1}, B{1, 2, 7}, B{5, 4, 3}})
    for (bool relu : {false, true}) append(out, batchnorm_cases(s, relu));
  using L = LinearShape;
  for (const L& s : {L{3, 5, 4}, L{1, 1, 1}, L{4, 7, 10}, L{2, 16, 3}}) append(out, linear_cases(s));
  // Elementwise ops have no shape of their own: they run over the pooling shapes' element counts.
  using P = PoolShape;
  for (const P& s : {P{2, 3, 4, 4}, P{1, 1, 5, 7}, P{2, 2, 6, 3}, P{1, 4, 1, 2}}) {
    append(out, pool_cases(s));
    const int64_t count = int64_t(s.n) * s.c * s.h * s.w;
    append(out, relu_cases(count));
    for (bool relu : {false, true}) append(out, add_cases(count, relu));
  }
  using E = CrossEntropyShape;
  for (const E& s : {E{4, 3}, E{1, 10}, E{7, 2}, E{5, 1}}) append(out, cross_entropy_cases(s));
  const std::vector<int64_t> sizes = {1, 4095, 4096, 4097, 0, 33, 12289, 70000};
  for (bool momentum_buffers : {true, false})
    out.push_back(std::make_shared<TensorStatsCase>(sizes, "edges", momentum_buffers));
  out.push_back(std::make_shared<SgdCase>(sizes, "edges", sgd_params(0, 0, false, true)));
  out.push_back(std::make_shared<SgdCase>(sizes, "edges", sgd_params(0, 5e-4f, false, false), true));
  out.push_back(std::make_shared<SgdCase>(sizes, "edges", sgd_params(0.9f, 5e-4f, false, true)));
  out.push_back(std::make_shared<SgdCase>(sizes, "edges", sgd_params(0.9f, 5e-4f, false, false), true));
  out.push_back(std::make_shared<SgdCase>(sizes, "edges", sgd_params(0.9f, 0, true, false), true));
  SgdParams dampened = sgd_params(0.9f, 5e-4f, false, true);  // v = m v + (1 - m) d
  dampened.dampened = true;
  out.push_back(std::make_shared<SgdCase>(sizes, "edges", dampened));
  dampened.first_step = false;
  out.push_back(std::make_shared<SgdCase>(sizes, "edges", dampened, true));
  return out;
}

std::vector<NetworkCase> network_cases(int batch, bool full, bool large) {
  Dedup<Conv2dShape> convs;
  Dedup<BnUse> bns;
  Dedup<PoolShape> maxpools, stem_maxpools, avgpools;
  Dedup<LinearShape> linears;
  Dedup<CrossEntropyShape> losses;
  std::vector<std::pair<std::string, std::vector<int64_t>>> parameter_lists;
  for (const NetSpec& net : benchmark_nets()) {
    const std::string label = net.label();
    const NetLayers layers = net_layers(net, net.batch > 0 ? net.batch : batch);
    for (const ConvLayer& l : layers.convs) {
      const Conv2dForward conv(l.conv);
      convs.note(conv.name(), l.conv, label);
      const BatchNormTrainForward bn(BatchNormShape{l.conv.n, l.conv.k, l.conv.p() * l.conv.q()}, l.relu);
      bns.note(bn.name(), {bn.shape, l.relu}, label);
    }
    for (const PoolShape& p : layers.maxpools) maxpools.note(MaxPoolForward(p).name(), p, label);
    for (const PoolShape& p : layers.stem_maxpools) stem_maxpools.note(MaxPool3x3s2Forward(p).name(), p, label);
    avgpools.note(AvgPoolForward(layers.avgpool).name(), layers.avgpool, label);
    linears.note(LinearForward(layers.classifier).name(), layers.classifier, label);
    const CrossEntropyShape loss{layers.classifier.n, net.classes};
    losses.note(CrossEntropyForward(loss).name(), loss, label);
    if (full || in_quick_subset(label)) parameter_lists.push_back({label, layers.parameter_sizes});
  }

  std::vector<NetworkCase> out;
  auto add = [&](const std::vector<OpCasePtr>& cases, const std::string& nets) {
    for (const OpCasePtr& c : cases) out.push_back({c, nets});
  };
  {
    Subset subset(full);
    for (const auto& e : convs.entries())
      if (subset.wanted(e.nets)) add(conv2d_cases(e.shape), join(e.nets));
    if (large) add(conv2d_cases(Conv2dShape{256, 128, 32, 32, 128, 3, 3, 1, 1}), "large");
    if (large && full) add(conv2d_cases(Conv2dShape{128, 256, 16, 16, 256, 3, 3, 1, 1}), "large");
  }
  auto bn_pair = [](const BatchNormShape& s, bool relu) -> std::vector<OpCasePtr> {
    return {std::make_shared<BatchNormTrainForward>(s, relu), std::make_shared<BatchNormBackward>(s, relu)};
  };
  {
    Subset subset(full);
    for (const auto& e : bns.entries())
      if (subset.wanted(e.nets)) add(bn_pair(e.shape.shape, e.shape.relu), join(e.nets));
    if (large) add(bn_pair(BatchNormShape{256, 128, 32 * 32}, true), "large");
    if (large && full) add(bn_pair(BatchNormShape{256, 256, 32 * 32}, false), "large");
  }
  auto max_pair = [](const PoolShape& s) -> std::vector<OpCasePtr> {
    return {std::make_shared<MaxPoolForward>(s), std::make_shared<MaxPoolBackward>(s)};
  };
  auto avg_pair = [](const PoolShape& s) -> std::vector<OpCasePtr> {
    return {std::make_shared<AvgPoolForward>(s), std::make_shared<AvgPoolBackward>(s)};
  };
  {
    Subset subset(full);
    for (const auto& e : maxpools.entries())
      if (subset.wanted(e.nets)) add(max_pair(e.shape), join(e.nets));
    if (large) add(max_pair(PoolShape{256, 128, 32, 32}), "large");
  }
  {
    Subset subset(full);
    for (const auto& e : stem_maxpools.entries())
      if (subset.wanted(e.nets))
        add({std::make_shared<MaxPool3x3s2Forward>(e.shape), std::make_shared<MaxPool3x3s2Backward>(e.shape)},
            join(e.nets));
  }
  for (const auto& e : avgpools.entries()) add(avg_pair(e.shape), join(e.nets));
  if (large) add(avg_pair(PoolShape{256, 512, 8, 8}), "large");
  for (const auto& e : losses.entries()) add(cross_entropy_cases(e.shape), join(e.nets));
  if (large) add(cross_entropy_cases(CrossEntropyShape{4096, 1000}), "large");
  for (const auto& e : linears.entries()) add(linear_cases(e.shape), join(e.nets));
  if (large) add(linear_cases(LinearShape{2048, 1024, 1024}), "large");
  if (large) parameter_lists.push_back({"large", std::vector<int64_t>(8, int64_t(1) << 22)});
  for (const auto& [label, sizes] : parameter_lists)
    add({std::make_shared<TensorStatsCase>(sizes, label),
         std::make_shared<SgdCase>(sizes, label, benchmark_sgd_params())},
        label);
  return out;
}

SgdParams benchmark_sgd_params() { return sgd_params(0.9f, 5e-4f, false, false); }

}  // namespace elr::kernels
