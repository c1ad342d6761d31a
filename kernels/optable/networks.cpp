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
  } else if (net.model == "resnet-imagenet" || net.model == "resnet-imagenet-noshort") {
    // The 7x7 stride-2 stem and its max-pool, then four stages of basic blocks (conv1 3x3, conv2
    // 3x3) or, from depth 50, bottlenecks (conv1 1x1, conv2 3x3 with the stride, conv3 1x1 to 4x
    // the width); the projection where the shape changes (torchvision's order, layers/models.cpp).
    const bool shortcut = net.model == "resnet-imagenet";
    const bool bottleneck = net.depth >= 50;
    const std::vector<int> blocks = net.depth == 18 ? std::vector<int>{2, 2, 2, 2} : std::vector<int>{3, 4, 6, 3};
    size = add_conv(channels, size, w, 7, 2, true).p();
    channels = w;
    out.stem_maxpools.push_back(PoolShape{n, channels, size, size});
    size = maxpool3x3s2_size(size);
    for (int stage = 0; stage < 4; ++stage) {
      const int width = w << stage, out_channels = bottleneck ? 4 * width : width;
      for (int b = 0; b < blocks[stage]; ++b) {
        const int stride = (stage > 0 && b == 0) ? 2 : 1;
        int out_size = 0;
        if (bottleneck) {
          add_conv(channels, size, width, 1, 1, true);
          out_size = add_conv(width, size, width, 3, stride, true).p();
          add_conv(width, out_size, out_channels, 1, 1, !shortcut);
        } else {
          out_size = add_conv(channels, size, width, 3, stride, true).p();
          add_conv(width, out_size, width, 3, 1, !shortcut);
        }
        if (shortcut && (stride != 1 || channels != out_channels))
          add_conv(channels, size, out_channels, 1, stride, false);
        size = out_size;
        channels = out_channels;
      }
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
  NetSpec imagenet = net("resnet-imagenet", 50, 64);
  imagenet.image_size = 224;
  imagenet.classes = 1000;
  imagenet.batch = 32;
  return {net("resnet", 20, 16), net("resnet", 56, 16), net("vgg", 11, 64), net("plain", 20, 32), imagenet};
}

bool in_quick_subset(const std::string& net_label) {
  return net_label == "resnet-20" || net_label == "resnet-56" || net_label == "plain-20";
}

}  // namespace elr::kernels
