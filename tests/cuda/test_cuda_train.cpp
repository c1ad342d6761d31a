// The whole CUDA training path (ops, autograd, statistics, SGD, the trainer) on the CPU execution
// layer, against the CPU backend: same seed, same batches, same numbers within float tolerance.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/cuda_backend/backend.h"
#include "engine/device.h"
#include "experiments/train.h"

using namespace elr;

namespace {

struct Trace {
  std::vector<double> losses;
  std::vector<std::vector<LayerStats>> layers;
};

Trace run(const std::string& device, const std::string& lr_control) {
  TrainConfig c;
  c.model.name = "plain";
  c.model.depth = 4;
  c.model.width = 8;
  c.dataset = "synthetic";
  c.synthetic_size = 64;
  c.batch = 16;
  c.steps = 5;
  c.lr = 0.2;
  c.momentum = 0.9;
  c.lr_control = lr_control;
  c.device = device;
  c.progress = false;
  c.out = "/tmp/elr_cuda_train_" + device + "_" + lr_control + "_" + std::to_string(::getpid());
  Trace t;
  train(c, [&](int64_t, double loss, const std::vector<LayerStats>& layers) {
    t.losses.push_back(loss);
    t.layers.push_back(layers);
  });
  return t;
}

}  // namespace

TEST_CASE("cuda backend: plain-4 trains on the CPU execution layer like the CPU backend", "[cuda][train]") {
  set_device_starter(DeviceType::CUDA, &cuda_backend::start);
  std::string why;
  REQUIRE(start_device(DeviceType::CUDA, &why));
  for (const char* control : {"none", "uniform-elr"}) {
    INFO("lr-control " << control);
    Trace cpu = run("cpu", control), gpu = run("cuda", control);
    REQUIRE(cpu.losses.size() == 5);
    REQUIRE(gpu.losses.size() == 5);
    double worst_loss = 0, worst_elr = 0;
    for (size_t s = 0; s < 5; ++s) {
      worst_loss = std::max(worst_loss, std::abs(gpu.losses[s] - cpu.losses[s]) / std::abs(cpu.losses[s]));
      REQUIRE(gpu.layers[s].size() == cpu.layers[s].size());
      for (size_t l = 0; l < cpu.layers[s].size(); ++l) {
        const LayerStats &a = gpu.layers[s][l], &b = cpu.layers[s][l];
        CHECK(a.name == b.name);
        CHECK(a.w2 == Approx(b.w2).epsilon(1e-4));
        if (b.scale_invariant) worst_elr = std::max(worst_elr, std::abs(a.elr() - b.elr()) / b.elr());
      }
    }
    WARN("worst relative difference: loss " << worst_loss << ", ELR " << worst_elr);
    CHECK(worst_loss <= 1e-4);
    CHECK(worst_elr <= 1e-3);
  }
}
