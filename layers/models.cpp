#include "layers/models.h"

#include <vector>

#include "engine/error.h"
#include "layers/layers.h"

namespace elr {

namespace {

int width_of(const ModelConfig& c) { return c.width > 0 ? c.width : default_width(c.name); }

bool is_imagenet_resnet(const std::string& model) {
  return model == "resnet-imagenet" || model == "resnet-imagenet-noshort";
}

// Convolutional body, global average pool, linear classifier.
class Classifier : public Module {
 public:
  Classifier(std::shared_ptr<Module> stem, std::shared_ptr<Sequential> body, int features, int classes) {
    if (stem) stem_ = &add_child("stem", std::move(stem));
    body_ = &add_child("layers", std::move(body));
    fc_ = &add_child("fc", std::make_shared<Linear>(features, classes, true, ParamKind::Classifier));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = stem_ ? stem_->forward(x) : x;
    return fc_->forward(ops::global_avg_pool(body_->forward(h)));
  }
  std::string type_name() const override { return "Classifier"; }

 private:
  Module* stem_ = nullptr;
  Sequential* body_;
  Linear* fc_;
};

std::shared_ptr<Module> build_plain(const ModelConfig& c) {
  const int w = width_of(c);
  auto body = std::make_shared<Sequential>();
  int in = c.in_channels;
  for (int i = 0; i < c.depth; ++i) {
    const int stage = 3 * i / c.depth;
    const bool first_of_stage = i > 0 && stage != 3 * (i - 1) / c.depth;
    body->add(std::make_shared<ConvBn>(in, w, 3, first_of_stage ? 2 : 1, true));
    in = w;
  }
  return std::make_shared<Classifier>(nullptr, body, w, c.classes);
}

std::shared_ptr<Module> build_resnet(const ModelConfig& c, bool shortcut) {
  const int w = width_of(c);
  const int blocks = (c.depth - 2) / 6;
  auto stem = std::make_shared<ConvBn>(c.in_channels, w, 3, 1, true);
  auto body = std::make_shared<Sequential>();
  int in = w;
  for (int stage = 0; stage < 3; ++stage) {
    const int out = w << stage;
    for (int b = 0; b < blocks; ++b) {
      const int stride = (stage > 0 && b == 0) ? 2 : 1;
      body->add(std::make_shared<ResidualBlock>(in, std::vector<ResidualBlock::Stage>{{out, 3, stride}, {out, 3, 1}},
                                                shortcut, ResidualBlock::Projection::Shortcut));
      in = out;
    }
  }
  return std::make_shared<Classifier>(stem, body, in, c.classes);
}

// torchvision's ImageNet ResNet v1: conv1 7x7 stride 2 -> bn1 + ReLU -> 3x3 stride-2 max-pool,
// layer1..layer4 (stage widths w, 2w, 4w, 8w; the first block of layers 2-4 has stride 2), global
// average pool, fc. The names are torchvision's state_dict names.
class ImageNetResNet : public Module {
 public:
  ImageNetResNet(const ModelConfig& c, bool shortcut) {
    const int w = width_of(c);
    const bool bottleneck = c.depth >= 50;  // 18, 34: basic blocks; 50: bottlenecks
    const std::vector<int> blocks = c.depth == 18 ? std::vector<int>{2, 2, 2, 2} : std::vector<int>{3, 4, 6, 3};
    conv1_ = &add_child("conv1", std::make_shared<Conv2d>(c.in_channels, w, 7, 2, 3));
    conv1_->weight().scale_invariant = true;
    bn1_ = &add_child("bn1", std::make_shared<BatchNorm2d>(w, /*fused_relu=*/true));
    int in = w;
    for (int stage = 0; stage < 4; ++stage) {
      const int width = w << stage;
      auto layer = std::make_shared<Sequential>();
      for (int b = 0; b < blocks[stage]; ++b) {
        const int stride = (stage > 0 && b == 0) ? 2 : 1;
        // torchvision's Bottleneck (v1.5) strides in the 3x3 conv.
        const std::vector<ResidualBlock::Stage> stages =
            bottleneck ? std::vector<ResidualBlock::Stage>{{width, 1, 1}, {width, 3, stride}, {4 * width, 1, 1}}
                       : std::vector<ResidualBlock::Stage>{{width, 3, stride}, {width, 3, 1}};
        layer->add(std::make_shared<ResidualBlock>(in, stages, shortcut, ResidualBlock::Projection::Downsample));
        in = stages.back().out_channels;
      }
      layers_.push_back(&add_child("layer" + std::to_string(stage + 1), layer));
    }
    fc_ = &add_child("fc", std::make_shared<Linear>(in, c.classes, true, ParamKind::Classifier));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = ops::max_pool3x3s2(bn1_->forward(conv1_->forward(x)));
    for (Sequential* layer : layers_) h = layer->forward(h);
    return fc_->forward(ops::global_avg_pool(h));
  }
  std::string type_name() const override { return "ImageNetResNet"; }

 private:
  Conv2d* conv1_;
  BatchNorm2d* bn1_;
  std::vector<Sequential*> layers_;
  Linear* fc_;
};

std::shared_ptr<Module> build_vgg(const ModelConfig& c) {
  // Channel multipliers of the first block's width; 0 = 2x2 max-pool (skipped once the image is 1 pixel).
  static const std::vector<int> vgg11 = {1, 0, 2, 0, 4, 4, 0, 8, 8, 0, 8, 8, 0};
  static const std::vector<int> vgg16 = {1, 1, 0, 2, 2, 0, 4, 4, 4, 0, 8, 8, 8, 0, 8, 8, 8, 0};
  const int w = width_of(c);
  auto body = std::make_shared<Sequential>();
  int in = c.in_channels, size = c.image_size;
  for (int m : (c.depth == 11 ? vgg11 : vgg16)) {
    if (m == 0) {
      if (size >= 2) {
        body->add(std::make_shared<MaxPool2d>());
        size /= 2;
      }
      continue;
    }
    body->add(std::make_shared<ConvBn>(in, w * m, 3, 1, true));
    in = w * m;
  }
  return std::make_shared<Classifier>(nullptr, body, in, c.classes);
}

}  // namespace

int default_width(const std::string& model) {
  if (model == "plain") return 32;
  if (model == "vgg" || is_imagenet_resnet(model)) return 64;
  return 16;
}

void validate_model_config(const ModelConfig& c) {
  if (c.name == "plain") {
    if (c.depth < 3 || c.depth > 200) throw UserError(fmt::format("--depth: plain nets take 3 to 200 layers, got {}", c.depth));
  } else if (c.name == "resnet" || c.name == "resnet-noshort") {
    if (c.depth < 8 || (c.depth - 2) % 6 != 0)
      throw UserError(fmt::format("--depth: resnet depth must be 6n+2 (20, 32, 56, 110), got {}", c.depth));
  } else if (c.name == "vgg") {
    if (c.depth != 11 && c.depth != 16) throw UserError(fmt::format("--depth: vgg depth must be 11 or 16, got {}", c.depth));
  } else if (is_imagenet_resnet(c.name)) {
    if (c.depth != 18 && c.depth != 34 && c.depth != 50)
      throw UserError(fmt::format("--depth: {} depth must be 18, 34 or 50, got {}", c.name, c.depth));
  } else {
    throw UserError(fmt::format(
        "--model: unknown model '{}' (expected plain, resnet, resnet-noshort, vgg, resnet-imagenet or "
        "resnet-imagenet-noshort)",
        c.name));
  }
  if (c.width < 0 || c.width > 4096) throw UserError(fmt::format("--width: {} is not a valid width", c.width));
}

std::shared_ptr<Module> build_model(const ModelConfig& c) {
  validate_model_config(c);
  if (c.name == "plain") return build_plain(c);
  if (c.name == "vgg") return build_vgg(c);
  if (is_imagenet_resnet(c.name)) return std::make_shared<ImageNetResNet>(c, c.name == "resnet-imagenet");
  return build_resnet(c, c.name == "resnet");
}

std::string describe_model(const ModelConfig& c) { return fmt::format("{}-{} (width {})", c.name, c.depth, width_of(c)); }

}  // namespace elr
