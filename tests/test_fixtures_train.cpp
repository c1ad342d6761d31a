// Whole training runs against PyTorch: the same initial weights and batches, then losses,
// gradients, per-layer statistics, final weights and BN running statistics compared by name
// (fixtures from tests/fixtures/gen_fixtures.py).
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "fixture.h"
#include "layers/layers.h"
#include "layers/models.h"
#include "optim/sgd.h"

using namespace elr;
using elr::testing::Fixture;

namespace {

// conv1 (3->6) -> bn1 + ReLU -> 2x2 max-pool -> flatten -> fc (96 -> 5), as in gen_fixtures.py.
class TinyNet : public Module {
 public:
  TinyNet() {
    conv1_ = &add_child("conv1", std::make_shared<Conv2d>(3, 6, 3, 1, 1));
    bn1_ = &add_child("bn1", std::make_shared<BatchNorm2d>(6, true));
    fc_ = &add_child("fc", std::make_shared<Linear>(96, 5));
    conv1_->weight().scale_invariant = true;
  }
  Tensor forward(const Tensor& x) override {
    return fc_->forward(ops::flatten(ops::max_pool2x2(bn1_->forward(conv1_->forward(x)))));
  }
  std::string type_name() const override { return "TinyNet"; }

 private:
  Conv2d* conv1_;
  BatchNorm2d* bn1_;
  Linear* fc_;
};

Tensor fixture_tensor(const Fixture& f, const std::string& name) {
  const auto& shape = f.shape(name);
  return Tensor::from_vector(Shape(shape.begin(), shape.end()), f.floats(name));
}

void load_initial_state(Module& model, const Fixture& f) {
  for (Parameter* p : model.parameters()) {
    INFO(p->name);
    REQUIRE(f.has("init." + p->name));
    p->value.copy_from(fixture_tensor(f, "init." + p->name));
  }
  for (Buffer* b : model.buffers()) {
    INFO(b->name);
    REQUIRE(f.has("init." + b->name));
    b->value.copy_from(fixture_tensor(f, "init." + b->name));
  }
}

// The largest element error relative to the tensor's largest magnitude.
double max_relative_error(const std::vector<float>& actual, const std::vector<double>& expected) {
  double scale = 0, worst = 0;
  for (double e : expected) scale = std::max(scale, std::abs(e));
  for (size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::abs(actual[i] - expected[i]));
  return worst / scale;
}

struct StepOutput {
  double loss;
  std::vector<LayerStats> layers;
};

StepOutput train_step(Module& model, Sgd& sgd, LrController& ctrl, const Fixture& f, int step) {
  const std::string prefix = "step" + std::to_string(step);
  Tensor x = fixture_tensor(f, prefix + ".x");
  std::vector<int32_t> labels = f.ints(prefix + ".labels");
  autograd::tape().clear();
  ops::LossResult loss = ops::cross_entropy(model.forward(x), Tensor::from_labels(labels));
  autograd::tape().backward(loss.loss);
  if (step == 0 && f.has("step0.grad.conv1.weight")) {
    for (Parameter* p : model.parameters()) elr::testing::compare(f, "step0.grad." + p->name, p->value.grad().to_vector());
  }
  double lr = 0;
  StepOutput out{loss.loss.data()[0], {}};
  out.layers = sgd.step(ctrl, lr);
  return out;
}

}  // namespace

TEST_CASE("fixtures: 5 SGD steps of a conv-BN-ReLU-pool-linear net match PyTorch", "[fixtures][train]") {
  Fixture f = Fixture::load(elr::testing::fixture_path("train_tiny.bin"));
  TinyNet model;
  load_initial_state(model, f);
  Sgd sgd(model.parameters(), SgdConfig{0.9, 1e-3, false});
  ScheduleConfig sched;
  sched.lr = 0.1;
  LrController ctrl(sched, {});
  for (int step = 0; step < 5; ++step) {
    StepOutput out = train_step(model, sgd, ctrl, f, step);
    const double expected = f.scalar("step" + std::to_string(step) + ".loss");
    INFO("step " << step << " loss " << out.loss << " expected " << expected);
    CHECK(std::abs(out.loss - expected) <= 1e-5 * std::abs(expected));
  }
  // Every parameter and BN running statistic within 1e-5 relative (of the tensor's scale).
  for (Parameter* p : model.parameters()) {
    const double err = max_relative_error(p->value.to_vector(), f.doubles("final." + p->name));
    INFO(p->name << " max relative error " << err);
    CHECK(err <= 1e-5);
  }
  for (Buffer* b : model.buffers()) {
    const double err = max_relative_error(b->value.to_vector(), f.doubles("final." + b->name));
    INFO(b->name << " max relative error " << err);
    CHECK(err <= 1e-5);
  }
}

TEST_CASE("fixtures: plain-6, 20 SGD steps with momentum: per-layer ELRs match PyTorch at every step",
          "[fixtures][train][elr]") {
  Fixture f = Fixture::load(elr::testing::fixture_path("train_plain6.bin"));
  ModelConfig mc;
  mc.name = "plain";
  mc.depth = 6;
  mc.width = 8;
  mc.in_channels = 1;
  mc.image_size = 16;
  mc.classes = 10;
  auto model = build_model(mc);
  load_initial_state(*model, f);
  Sgd sgd(model->parameters(), SgdConfig{0.9, 0.0, false});
  ScheduleConfig sched;
  sched.lr = 0.1;
  LrController ctrl(sched, {});
  double worst_elr = 0;
  for (int step = 0; step < 20; ++step) {
    StepOutput out = train_step(*model, sgd, ctrl, f, step);
    const std::string prefix = "step" + std::to_string(step);
    CHECK(std::abs(out.loss - f.scalar(prefix + ".loss")) <= 1e-5 * std::abs(f.scalar(prefix + ".loss")));
    int checked = 0;
    for (const LayerStats& l : out.layers) {
      if (!l.scale_invariant) continue;
      const std::string layer = l.name.substr(0, l.name.size() - std::string(".conv.weight").size());
      const double expected = f.scalar(prefix + "." + layer + ".elr");
      const double rel = std::abs(l.elr() - expected) / expected;
      worst_elr = std::max(worst_elr, rel);
      INFO(prefix << " " << l.name << " ELR " << l.elr() << " expected " << expected);
      CHECK(rel <= 1e-4);
      CHECK(l.w2 == Approx(f.scalar(prefix + "." + layer + ".w2")).epsilon(1e-5));
      ++checked;
    }
    CHECK(checked == 6);
  }
  WARN("plain-6 fixture: worst ELR relative error over 20 steps " << worst_elr);
  for (Parameter* p : model->parameters()) elr::testing::compare(f, "final." + p->name, p->value.to_vector());
}
