// The CPU kernel suite: the layer shapes of the CIFAR nets (walked the way layers/models.cpp builds
// them), deduplicated across nets, each benchmarked for every kernel that runs at it.
#include <map>
#include <set>

#include "bench/cpu/kernel_bench.h"
#include "tests/op_cases.h"

namespace elr::bench {

namespace {

using kernels::Conv2dShape;

int width_of(const ModelConfig& c) { return c.width > 0 ? c.width : default_width(c.name); }

Conv2dShape conv(int n, int c, int size, int k, int kernel, int stride) {
  return Conv2dShape{n, c, size, size, k, kernel, kernel, stride, kernel / 2};
}

}  // namespace

std::vector<ConvLayer> conv_layers(const ModelConfig& c, int n) {
  validate_model_config(c);
  const int w = width_of(c);
  std::vector<ConvLayer> out;
  int size = c.image_size;
  if (c.name == "plain") {
    int in = c.in_channels;
    for (int i = 0; i < c.depth; ++i) {
      const int stage = 3 * i / c.depth;
      const bool first_of_stage = i > 0 && stage != 3 * (i - 1) / c.depth;
      const Conv2dShape s = conv(n, in, size, w, 3, first_of_stage ? 2 : 1);
      out.push_back({s, true});
      size = s.p();
      in = w;
    }
  } else if (c.name == "vgg") {
    static const std::vector<int> vgg11 = {1, 0, 2, 0, 4, 4, 0, 8, 8, 0, 8, 8, 0};
    static const std::vector<int> vgg16 = {1, 1, 0, 2, 2, 0, 4, 4, 4, 0, 8, 8, 8, 0, 8, 8, 8, 0};
    int in = c.in_channels;
    for (int m : (c.depth == 11 ? vgg11 : vgg16)) {
      if (m == 0) {
        if (size >= 2) size /= 2;
        continue;
      }
      out.push_back({conv(n, in, size, w * m, 3, 1), true});
      in = w * m;
    }
  } else {  // resnet, resnet-noshort: stem, then conv1, conv2 (and the projection) of each block
    const bool shortcut = c.name == "resnet";
    const int blocks = (c.depth - 2) / 6;
    out.push_back({conv(n, c.in_channels, size, w, 3, 1), true});
    int in = w;
    for (int stage = 0; stage < 3; ++stage) {
      const int width = w << stage;
      for (int b = 0; b < blocks; ++b) {
        const int stride = (stage > 0 && b == 0) ? 2 : 1;
        const Conv2dShape c1 = conv(n, in, size, width, 3, stride);
        out.push_back({c1, true});
        out.push_back({conv(n, width, c1.p(), width, 3, 1), !shortcut});
        if (shortcut && (stride != 1 || in != width)) out.push_back({conv(n, in, size, width, 1, stride), false});
        size = c1.p();
        in = width;
      }
    }
  }
  return out;
}

std::vector<kernels::PoolShape> maxpool_inputs(const ModelConfig& c, int n) {
  std::vector<kernels::PoolShape> out;
  if (c.name != "vgg") return out;
  static const std::vector<int> vgg11 = {1, 0, 2, 0, 4, 4, 0, 8, 8, 0, 8, 8, 0};
  static const std::vector<int> vgg16 = {1, 1, 0, 2, 2, 0, 4, 4, 4, 0, 8, 8, 8, 0, 8, 8, 8, 0};
  const int w = width_of(c);
  int channels = c.in_channels, size = c.image_size;
  for (int m : (c.depth == 11 ? vgg11 : vgg16)) {
    if (m != 0) {
      channels = w * m;
    } else if (size >= 2) {
      out.push_back(kernels::PoolShape{n, channels, size, size});
      size /= 2;
    }
  }
  return out;
}

kernels::PoolShape avgpool_input(const ModelConfig& c, int n) {
  const std::vector<ConvLayer> layers = conv_layers(c, n);
  const Conv2dShape& last = layers.back().conv;
  int size = last.p();
  if (c.name == "vgg") size = c.image_size >> static_cast<int>(maxpool_inputs(c, n).size());
  return kernels::PoolShape{n, last.k, size, size};
}

std::vector<int64_t> parameter_sizes(const ModelConfig& c) {
  std::vector<int64_t> out;
  const std::shared_ptr<Module> model = build_model(c);  // alive while its parameters are read
  for (const Parameter* p : model->parameters()) out.push_back(p->value.numel());
  return out;
}

std::vector<std::pair<std::string, ModelConfig>> kernel_suite_nets() {
  auto net = [](const std::string& name, int depth) {
    ModelConfig c;
    c.name = name;
    c.depth = depth;
    c.in_channels = 3;
    c.image_size = 32;
    c.classes = 10;
    return std::make_pair(fmt::format("{}-{}", name, depth), c);
  };
  return {net("resnet", 20), net("resnet", 56), net("vgg", 11), net("plain", 20)};
}

std::vector<KernelRow> run_kernel_suite(const KernelSuiteConfig& cfg) {
  const auto nets = kernel_suite_nets();
  // Deduplicated shapes, each with the nets that use it (in suite order).
  std::map<std::string, std::pair<Conv2dShape, std::vector<std::string>>> convs;
  std::map<std::string, std::pair<std::pair<kernels::BatchNormShape, bool>, std::vector<std::string>>> bns;
  std::map<std::string, std::pair<kernels::PoolShape, std::vector<std::string>>> maxpools, avgpools;
  std::vector<std::string> conv_order, bn_order, maxpool_order, avgpool_order;
  auto note = [](auto& map, std::vector<std::string>& order, const std::string& key, const auto& value,
                 const std::string& net) {
    auto it = map.find(key);
    if (it == map.end()) {
      map.emplace(key, std::make_pair(value, std::vector<std::string>{net}));
      order.push_back(key);
    } else if (it->second.second.back() != net) {
      it->second.second.push_back(net);
    }
  };
  for (const auto& [label, mc] : nets) {
    for (const ConvLayer& l : conv_layers(mc, cfg.batch)) {
      note(convs, conv_order, testing::case_name(l.conv), l.conv, label);
      const kernels::BatchNormShape bn{l.conv.n, l.conv.k, l.conv.p() * l.conv.q()};
      note(bns, bn_order, testing::case_name(bn) + (l.relu ? "+relu" : ""), std::make_pair(bn, l.relu), label);
    }
    for (const kernels::PoolShape& p : maxpool_inputs(mc, cfg.batch)) note(maxpools, maxpool_order, testing::case_name(p), p, label);
    const kernels::PoolShape gap = avgpool_input(mc, cfg.batch);
    note(avgpools, avgpool_order, testing::case_name(gap), gap, label);
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
  };
  // Quick mode: the shapes of resnet-20/56 and plain-20 (the step nets), plus vgg-11's first two
  // convs and pools; --full adds the rest of vgg-11.
  auto wanted = [&](const std::vector<std::string>& users, int vgg_index) {
    if (cfg.full) return true;
    for (const auto& u : users)
      if (u != "vgg-11") return true;
    return vgg_index < 2;
  };

  std::vector<KernelRow> rows;
  auto emit = [&](KernelRow r, const std::vector<std::string>& users) {
    r.nets = join(users);
    if (cfg.on_row) cfg.on_row(r);
    rows.push_back(std::move(r));
  };
  const CpuKernels& k = cfg.kernels;
  const BenchOptions& o = cfg.options;
  int vgg_only = 0;
  for (const std::string& key : conv_order) {
    const auto& [s, users] = convs.at(key);
    const bool vgg = users.size() == 1 && users[0] == "vgg-11";
    if (!wanted(users, vgg ? vgg_only++ : 0)) continue;
    emit(bench_conv_forward(s, k.conv_forward, o), users);
    emit(bench_conv_backward_data(s, k.conv_backward_data, o), users);
    emit(bench_conv_backward_weight(s, k.conv_backward_weight, o), users);
  }
  vgg_only = 0;
  for (const std::string& key : bn_order) {
    const auto& [sr, users] = bns.at(key);
    const bool vgg = users.size() == 1 && users[0] == "vgg-11";
    if (!wanted(users, vgg ? vgg_only++ : 0)) continue;
    emit(bench_bn_forward(sr.first, sr.second, k.bn_forward, o), users);
    emit(bench_bn_backward(sr.first, sr.second, k.bn_backward, o), users);
  }
  int index = 0;
  for (const std::string& key : maxpool_order) {
    const auto& [s, users] = maxpools.at(key);
    if (!wanted(users, index++)) continue;
    emit(bench_maxpool_forward(s, k.maxpool_forward, o), users);
    emit(bench_maxpool_backward(s, k.maxpool_backward, o), users);
  }
  for (const std::string& key : avgpool_order) {
    const auto& [s, users] = avgpools.at(key);
    emit(bench_avgpool_forward(s, k.avgpool_forward, o), users);
    emit(bench_avgpool_backward(s, k.avgpool_backward, o), users);
  }
  std::vector<std::string> all;
  for (const auto& [label, mc] : nets) all.push_back(label);
  const kernels::CrossEntropyShape ce{cfg.batch, 10};
  emit(bench_cross_entropy_forward(ce, k.cross_entropy_forward, o), all);
  emit(bench_cross_entropy_backward(ce, k.cross_entropy_backward, o), all);
  for (const auto& [label, mc] : nets) {
    if (!cfg.full && label == "vgg-11") continue;
    const std::vector<int64_t> sizes = parameter_sizes(mc);
    emit(bench_tensor_stats(sizes, label, k.tensor_stats, o), {label});
    emit(bench_sgd_update(sizes, label, k.sgd_update, o), {label});
  }
  return rows;
}

}  // namespace elr::bench
