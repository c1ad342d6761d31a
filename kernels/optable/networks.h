// The nets the benchmarks run at, described without the engine: the architectures of
// layers/models.cpp (plain BN-ReLU stacks, CIFAR ResNet v1 with or without shortcuts, VGG with BN,
// the ImageNet ResNets), walked here for their layer shapes. tests/test_bench.cpp checks the walk
// against build_model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace elr::kernels {

struct NetSpec {
  std::string model = "plain";  // plain | resnet | resnet-noshort | vgg | resnet-imagenet | resnet-imagenet-noshort
  int depth = 20;
  int width = 32;  // plain: channels; resnet, resnet-imagenet: first stage; vgg: first block
  int in_channels = 3, image_size = 32, classes = 10;
  int batch = 0;  // > 0: the batch the suites run this net at, instead of theirs
  std::string label() const;  // "resnet-20"
};

struct ConvLayer {
  Conv2dShape conv;
  bool relu = true;  // the BN after this conv fuses a ReLU
};

struct NetLayers {
  std::vector<ConvLayer> convs;          // every conv with its BN, in parameter order
  std::vector<PoolShape> maxpools;       // the 2x2 max-pool inputs (vgg)
  std::vector<PoolShape> stem_maxpools;  // the 3x3 stride-2 max-pool inputs (resnet-imagenet)
  PoolShape avgpool;                     // the global-average-pool input
  LinearShape classifier;
  std::vector<int64_t> parameter_sizes;  // every parameter tensor's element count, in parameter order
};

// The layer shapes of `net` at batch n.
NetLayers net_layers(const NetSpec& net, int n);

// resnet-20 and resnet-56 (width 16), vgg-11 (width 64), plain-20 (width 32): 3x32x32, 10 classes;
// then resnet-imagenet-50 (width 64): 3x224x224, 1000 classes, at batch 32 (a GPU's share of
// ImageNet's batch of 256 on eight).
std::vector<NetSpec> benchmark_nets();
// The nets whose every shape the suites' quick subset keeps (the CIFAR ResNets and plain-20); of the
// others it keeps the first two shapes of each kind.
bool in_quick_subset(const std::string& net_label);

}  // namespace elr::kernels
