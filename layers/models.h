// Model builders: plain BN-ReLU stacks, CIFAR ResNet v1 (with and without shortcuts), VGG with BN
// and torchvision's ImageNet ResNet v1 (18, 34, 50; with and without shortcuts).
#pragma once
#include <memory>
#include <string>

#include "layers/module.h"

namespace elr {

struct ModelConfig {
  std::string name = "plain";  // plain | resnet | resnet-noshort | vgg | resnet-imagenet | resnet-imagenet-noshort
  int depth = 10;              // plain: 3..200; resnet: 6n+2 (20, 32, 56, 110); vgg: 11 or 16;
                               // resnet-imagenet: 18, 34, 50
  int width = 0;               // plain: channels (default 32); resnet: first stage (16); vgg: first block (64);
                               // resnet-imagenet: first stage (64)
  int in_channels = 1;
  int image_size = 28;
  int classes = 10;
};

// The width used when config.width is 0.
int default_width(const std::string& model);
// Throws UserError naming the option (--model, --depth, --width) when the configuration is invalid.
void validate_model_config(const ModelConfig& c);
std::shared_ptr<Module> build_model(const ModelConfig& c);
std::string describe_model(const ModelConfig& c);  // "plain-10 (width 32)"

}  // namespace elr
