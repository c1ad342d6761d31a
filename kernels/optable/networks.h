// The nets the benchmarks run at, described without the engine: the architectures of
// layers/models.cpp (plain BN-ReLU stacks, CIFAR ResNet v1 with or without shortcuts, VGG with BN),
// walked here for their layer shapes. tests/test_bench.cpp checks the walk against build_model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace elr::kernels {

struct NetSpec {
  std::string model = "plain";  // plain | resnet | resnet-noshort | vgg
  int depth = 20;
  int width = 32;  // plain: channels; resnet: first stage; vgg: first block
  int in_channels = 3, image_size = 32, classes = 10;
  std::string label() const;  // "resnet-20"
};

struct ConvLayer {
  Conv2dShape conv;
  bool relu = true;  // the BN after this conv fuses a ReLU
};

struct NetLayers {
  std::vector<ConvLayer> convs;          // every conv with its BN, in parameter order
  std::vector<PoolShape> maxpools;       // the 2x2 max-pool inputs (vgg)
  PoolShape avgpool;                     // the global-average-pool input
  LinearShape classifier;
  std::vector<int64_t> parameter_sizes;  // every parameter tensor's element count, in parameter order
};

// The layer shapes of `net` at batch n.
NetLayers net_layers(const NetSpec& net, int n);

// resnet-20 and resnet-56 (width 16), vgg-11 (width 64), plain-20 (width 32): 3x32x32, 10 classes.
std::vector<NetSpec> benchmark_nets();

}  // namespace elr::kernels
