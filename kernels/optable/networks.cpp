#include "kernels/optable/networks.h"

#include <fmt/format.h>

namespace elr::kernels {

std::string NetSpec::label() const { return fmt::format("{}-{}", model, depth); }

NetLayers net_layers(const NetSpec& net, int n) {
  NetLayers out;
  // A conv (k x c x kernel x kernel, padding kernel / 2) and the BN after it, with their parameters.
  auto add_conv = [&](int c, int size, int k, int kernel, int stride, bool relu) {
    const Conv2dShape s{n, c, size, size, k, kernel, kernel, stride, kernel / 2};
    out.convs.push_back({s, relu});
    out.parameter_sizes.insert(out.parameter_sizes.end(), {int64_t(k) * c * kernel * kernel, k, k});
    return s;
  };
  const int w = net.width;
  int size = net.image_size, channels = net.in_channels;
  if (net.model == "plain") {
    for (int i = 0; i < net.depth; ++i) {
      const int stage = 3 * i / net.depth;
      const bool first_of_stage = i > 0 && stage != 3 * (i - 1) / net.depth;
      size = add_conv(channels, size, w, 3, first_of_stage ? 2 : 1, true).p();
      channels = w;
    }
  } else if (net.model == "vgg") {
    // Channel multipliers of the first block's width; 0 = 2x2 max-pool (skipped once the image is 1 pixel).
    static const std::vector<int> vgg11 = {1, 0, 2, 0, 4, 4, 0, 8, 8, 0, 8, 8, 0};
    static const std::vector<int> vgg16 = {1, 1, 0, 2, 2, 0, 4, 4, 4, 0, 8, 8, 8, 0, 8, 8, 8, 0};
    for (int m : (net.depth == 11 ? vgg11 : vgg16)) {
      if (m == 0) {
        if (size >= 2) {
          out.maxpools.push_back(PoolShape{n, channels, size, size});
          size /= 2;
        }
        continue;
      }
      add_conv(channels, size, w * m, 3, 1, true);
      channels = w * m;
    }
  } else {  // resnet, resnet-noshort: the stem, then conv1, conv2 (and the projection) of each block
    const bool shortcut = net.model == "resnet";
    const int blocks = (net.depth - 2) / 6;
    add_conv(channels, size, w, 3, 1, true);
    channels = w;
    for (int stage = 0; stage < 3; ++stage) {
      const int width = w << stage;
      for (int b = 0; b < blocks; ++b) {
        const int stride = (stage > 0 && b == 0) ? 2 : 1;
        const Conv2dShape c1 = add_conv(channels, size, width, 3, stride, true);
        add_conv(width, c1.p(), width, 3, 1, !shortcut);
        if (shortcut && (stride != 1 || channels != width)) add_conv(channels, size, width, 1, stride, false);
        size = c1.p();
        channels = width;
      }
    }
  }
  out.avgpool = PoolShape{n, channels, size, size};
  out.classifier = LinearShape{n, channels, net.classes};
  out.parameter_sizes.insert(out.parameter_sizes.end(), {int64_t(net.classes) * channels, net.classes});
  return out;
}

std::vector<NetSpec> benchmark_nets() {
  auto net = [](const char* model, int depth, int width) {
    NetSpec s;
    s.model = model;
    s.depth = depth;
    s.width = width;
    return s;
  };
  return {net("resnet", 20, 16), net("resnet", 56, 16), net("vgg", 11, 64), net("plain", 20, 32)};
}

}  // namespace elr::kernels
