// The ImageNet ResNets (resnet-imagenet, resnet-imagenet-noshort; depths 18, 34, 50): torchvision's
// state_dict names and shapes (tests/fixtures/resnet_state_dicts.txt), scale invariance,
// initialization, output shapes, and a ResNet-50 trained end to end on the generated JPEG folder.
#include <catch2/catch.hpp>

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/files.h"
#include "engine/rng.h"
#include "experiments/run/train.h"
#include "fixture.h"
#include "image_folder_fixture.h"
#include "layers/models.h"

using namespace elr;
using namespace elr::testing;

namespace {

using NamedShape = std::pair<std::string, std::vector<int64_t>>;

// torchvision's state_dict of resnet<depth>: (name, shape) in order.
std::vector<NamedShape> torchvision_state_dict(int depth) {
  std::ifstream in(fixture_path("resnet_state_dicts.txt"));
  REQUIRE(in);
  std::vector<NamedShape> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string model, name, dims;
    fields >> model >> name >> dims;
    if (model != "resnet" + std::to_string(depth)) continue;
    std::vector<int64_t> shape;
    std::istringstream ds(dims);
    for (std::string d; std::getline(ds, d, 'x');) shape.push_back(std::stoll(d));
    out.push_back({name, shape});
  }
  return out;
}

// "" when equal, else the first difference.
std::string first_difference(const std::vector<NamedShape>& got, const std::vector<NamedShape>& want) {
  auto text = [](const NamedShape& e) { return fmt::format("{} [{}]", e.first, fmt::join(e.second, ", ")); };
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    if (i < got.size() && i < want.size() && got[i] == want[i]) continue;
    return fmt::format("entry {}: got {}, torchvision has {}", i, i < got.size() ? text(got[i]) : "nothing",
                       i < want.size() ? text(want[i]) : "nothing");
  }
  return "";
}

bool is_buffer(const std::string& name) {
  return name.find("running_mean") != std::string::npos || name.find("running_var") != std::string::npos;
}

ModelConfig imagenet_config(int depth, bool shortcut, int width = 0, int classes = 1000) {
  ModelConfig c;
  c.name = shortcut ? "resnet-imagenet" : "resnet-imagenet-noshort";
  c.depth = depth;
  c.width = width;
  c.in_channels = 3;
  c.image_size = 224;
  c.classes = classes;
  return c;
}

}  // namespace

TEST_CASE("resnet-imagenet: parameter and buffer names and shapes are torchvision's resnet18/34/50",
          "[models][imagenet][fixtures]") {
  for (int depth : {18, 34, 50}) {
    INFO("resnet" << depth);
    const std::vector<NamedShape> expected = torchvision_state_dict(depth);
    REQUIRE(expected.size() > 50);
    std::vector<NamedShape> want_params, want_buffers;
    for (const NamedShape& e : expected) (is_buffer(e.first) ? want_buffers : want_params).push_back(e);

    const std::shared_ptr<Module> model = build_model(imagenet_config(depth, true));
    std::vector<NamedShape> params, buffers;
    for (const Parameter* p : model->parameters()) params.push_back({p->name, p->value.shape()});
    for (const Buffer* b : model->buffers()) buffers.push_back({b->name, b->value.shape()});
    CHECK(first_difference(params, want_params) == "");
    CHECK(first_difference(buffers, want_buffers) == "");
    CHECK(describe_model(imagenet_config(depth, true)) == fmt::format("resnet-imagenet-{} (width 64)", depth));

    // No Short: the same convs and BNs, without the projections.
    std::vector<NamedShape> want_noshort;
    for (const NamedShape& e : want_params)
      if (e.first.find("downsample") == std::string::npos) want_noshort.push_back(e);
    const std::shared_ptr<Module> noshort_model = build_model(imagenet_config(depth, false));
    std::vector<NamedShape> noshort;
    for (const Parameter* p : noshort_model->parameters()) noshort.push_back({p->name, p->value.shape()});
    CHECK(first_difference(noshort, want_noshort) == "");
  }
}

TEST_CASE("resnet-imagenet: every conv is scale-invariant, BN and fc are not, torchvision's initialization",
          "[models][imagenet]") {
  const std::shared_ptr<Module> model = build_model(imagenet_config(50, true, 8, 10));
  model->reset_parameters(3);
  int convs = 0;
  for (const Parameter* p : model->parameters()) {
    INFO(p->name);
    const bool conv = p->kind == ParamKind::Conv;
    CHECK(p->scale_invariant == conv);
    CHECK(conv == (p->value.ndim() == 4));
    const Tensor v = p->value.to(Device::cpu());
    const float* x = v.data();
    if (conv) {
      ++convs;
      // kaiming_normal_(fan_out, relu): variance 2 / (out channels x kernel area).
      const double want = 2.0 / double(p->value.dim(0) * p->value.dim(2) * p->value.dim(3));
      double sq = 0;
      for (int64_t i = 0; i < v.numel(); ++i) sq += double(x[i]) * x[i];
      CHECK(sq / double(v.numel()) == Approx(want).epsilon(v.numel() > 2000 ? 0.15 : 0.6));
    } else if (p->kind == ParamKind::BnWeight || p->kind == ParamKind::BnBias) {
      // Weight 1 (the last BN of a block too: no zero-init of the residual branch), bias 0.
      for (int64_t i = 0; i < v.numel(); ++i) CHECK(x[i] == (p->kind == ParamKind::BnWeight ? 1.0f : 0.0f));
    } else {
      CHECK(p->kind == ParamKind::Classifier);
    }
  }
  CHECK(convs == 53);  // the stem, 16 bottlenecks x 3, 4 projections
  CHECK(model->parameters().back()->name == "fc.bias");
}

TEST_CASE("resnet-imagenet: depths 18, 34, 50 with and without shortcuts map images to class scores",
          "[models][imagenet]") {
  for (int depth : {18, 34, 50}) {
    for (bool shortcut : {true, false}) {
      INFO(depth << (shortcut ? "" : " noshort"));
      const ModelConfig c = imagenet_config(depth, shortcut, 4, 7);
      const std::shared_ptr<Module> model = build_model(c);
      model->reset_parameters(1);
      std::vector<float> x(size_t(2) * 3 * 40 * 33);
      for (size_t i = 0; i < x.size(); ++i) x[i] = philox_normal(9, 0, i);
      autograd::NoGradGuard no_grad;
      const Tensor y = model->forward(Tensor::from_vector({2, 3, 40, 33}, x));
      CHECK(y.shape() == Shape{2, 7});
    }
  }
  CHECK_THROWS_WITH(validate_model_config(imagenet_config(20, true)), Catch::Contains("18, 34 or 50"));
}

TEST_CASE("resnet-imagenet-50 trains end to end on a folder of JPEGs", "[models][imagenet][train]") {
  TrainConfig c;
  c.model.name = "resnet-imagenet";
  c.model.depth = 50;
  c.model.width = 4;
  c.dataset = "imagefolder";
  c.data_dir = test_image_folder();
  c.image_folder.image_size = 32;
  c.image_folder.threads = 2;
  c.batch = 5;
  c.steps = 6;
  c.lr = 0.05;
  c.out = temp_dir("resnet50_imagefolder");
  c.progress = false;
  const TrainResult r = train(c);
  CHECK(r.steps == 6);
  CHECK_FALSE(r.diverged);
  CHECK(std::isfinite(r.final_loss));
  CHECK(r.test_accuracy >= 0.0);
  CHECK(r.test_accuracy <= 1.0);
  const nlohmann::json config = read_json(c.out + "/config.json");
  CHECK(config["dataset"] == "imagefolder");
  CHECK(config["image_size"] == 32);
  CHECK(config["train_images"] == kFolderTrainImages);
  CHECK(config["model_description"] == "resnet-imagenet-50 (width 4)");
  CHECK(config["parameters"].size() == 161);  // 53 convs, 53 BNs x 2, fc weight and bias
  CHECK(config["parameters"][0]["name"] == "conv1.weight");
}
