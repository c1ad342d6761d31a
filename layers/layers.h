// The building blocks of every model: conv, batch norm (optionally with a fused ReLU), ReLU,
// linear, pooling, flatten, the ResNet v1 blocks (basic and bottleneck) and Sequential.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "layers/module.h"

namespace elr {

class Conv2d : public Module {
 public:
  Conv2d(int in_channels, int out_channels, int kernel, int stride, int pad);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  Parameter& weight() { return *weight_; }
  int stride() const { return stride_; }

 protected:
  void reset_own(uint64_t seed, uint64_t& stream) override;

 private:
  Parameter* weight_;
  int stride_, pad_;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int channels, bool fused_relu = false, float momentum = 0.1f, float eps = 1e-5f);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return fused_relu_ ? "BatchNorm2d+ReLU" : "BatchNorm2d"; }
  // Where the training statistics come from (ops::BatchNormOptions): each of `groups` slices of the
  // batch, or, with `ranks`, every rank's batch.
  void set_statistics(int groups, Communicator* ranks);

 protected:
  void reset_own(uint64_t seed, uint64_t& stream) override;

 private:
  Parameter *gamma_, *beta_;
  Buffer *running_mean_, *running_var_;
  bool fused_relu_;
  float momentum_, eps_;
  int groups_ = 1;
  Communicator* ranks_ = nullptr;
};

// Sets every batch norm of `model` to take its training statistics from `groups` slices of the batch
// (--bn-groups), or from the batches of all `ranks` (--sync-bn; null: this rank's batch alone).
void set_batch_norm_statistics(Module& model, int groups, Communicator* ranks);

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ops::relu(x); }
  std::string type_name() const override { return "ReLU"; }
};

class Linear : public Module {
 public:
  // kind: ParamKind::Classifier for the output layer, ParamKind::Linear otherwise.
  Linear(int in_features, int out_features, bool bias = true, ParamKind kind = ParamKind::Classifier);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  Parameter& weight() { return *weight_; }

 protected:
  void reset_own(uint64_t seed, uint64_t& stream) override;

 private:
  Parameter* weight_;
  Parameter* bias_ = nullptr;
};

class MaxPool2d : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ops::max_pool2x2(x); }
  std::string type_name() const override { return "MaxPool2d(2)"; }
};

class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ops::global_avg_pool(x); }
  std::string type_name() const override { return "GlobalAvgPool"; }
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ops::flatten(x); }
  std::string type_name() const override { return "Flatten"; }
};

class Sequential : public Module {
 public:
  // Children are named "0", "1", ... as in torch.nn.Sequential.
  template <class M>
  M& add(std::shared_ptr<M> m) {
    modules_.push_back(m);
    return add_child(std::to_string(modules_.size() - 1), std::move(m));
  }
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return modules_.size(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

// conv -> BN (+ fused ReLU). The conv weight is scale-invariant: BN follows it.
class ConvBn : public Module {
 public:
  ConvBn(int in_channels, int out_channels, int kernel, int stride, bool relu);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvBn"; }

 private:
  Conv2d* conv_;
  BatchNorm2d* bn_;
};

// ResNet v1 block: conv -> BN stages, each BN but the last fusing a ReLU, plus the shortcut
// (identity, or a 1x1 conv + BN projection where the shape changes), then ReLU. The basic block
// is conv3x3 (stride) -> conv3x3; torchvision's bottleneck conv1x1 -> conv3x3 (stride) -> conv1x1
// to 4x the width. The children are conv1, bn1, conv2, bn2, ... and the projection. With
// shortcut = false the residual add is dropped ("No Short"), with the projection, and the last BN
// fuses the ReLU instead.
class ResidualBlock : public Module {
 public:
  struct Stage {
    int out_channels, kernel, stride;
  };
  // The projection's names: "shortcut" holding conv and bn (the CIFAR nets), or torchvision's
  // "downsample" holding 0 (the conv) and 1 (the BN).
  enum class Projection { Shortcut, Downsample };
  ResidualBlock(int in_channels, const std::vector<Stage>& stages, bool shortcut, Projection projection);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return shortcut_ ? "ResidualBlock" : "ResidualBlock(no shortcut)"; }

 private:
  std::vector<std::pair<Conv2d*, BatchNorm2d*>> stages_;
  Module* projection_ = nullptr;
  bool shortcut_;
};

}  // namespace elr
