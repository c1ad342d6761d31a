// The whole CUDA training path (ops, autograd, statistics, LR control, SGD, the trainer's device
// step and its CUDA graph) against the CPU backend: same seed, same batches, same numbers within
// float tolerance, and the device's learning rates the host rule's to the bit. Built against the
// CPU execution layer for CI and, as elr_gpu_train_tests, by nvcc for a GPU
// (ELR_TRAIN_TESTS_ON_GPU: exits 77 without one).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/cuda_backend/backend.h"
#include "engine/device.h"
#include "engine/safetensors.h"
#include "experiments/run/train.h"
#include "optim/lr_control.h"

using namespace elr;

namespace {

// 20 steps: more than the device step's drain interval (16), so both full and partial drains.
constexpr int kSteps = 20;

struct Trace {
  std::vector<double> losses;
  std::vector<std::vector<LayerStats>> layers;
  TrainResult result;
};

TrainConfig tiny_config(const std::string& device, const std::string& lr_control, const std::string& tag) {
  TrainConfig c;
  c.model.name = "plain";
  c.model.depth = 4;
  c.model.width = 8;
  c.dataset = "synthetic";
  c.synthetic_size = 64;
  c.batch = 16;
  c.steps = kSteps;
  // At lr 0.2 uniform-elr on this net is chaotic: any change of float rounding (even the CPU's
  // own conv path) grows to percent-level lr differences within 20 steps. At 0.1 runs agree to
  // ~1e-6.
  c.lr = 0.1;
  c.momentum = 0.9;
  c.schedule = ScheduleKind::Cosine;
  c.lr_control = parse_lr_control(lr_control);
  c.device = Device::parse(device);
  c.progress = false;
  c.evaluate = false;
  c.out = "/tmp/elr_cuda_train_" + tag + "_" + lr_control + "_" + std::to_string(::getpid());
  return c;
}

// mode: "cpu", "graph" or "eager".
Trace run(const std::string& mode, const std::string& lr_control) {
  TrainConfig c = tiny_config(mode == "cpu" ? "cpu" : "cuda", lr_control, mode);
  c.cuda_graph = mode != "eager";
  Trace t;
  t.result = train(c, [&](int64_t, double loss, const std::vector<LayerStats>& layers) {
    t.losses.push_back(loss);
    t.layers.push_back(layers);
  });
  return t;
}

void start_cuda() {
  set_device_starter(DeviceType::CUDA, &cuda_backend::start);
  std::string why;
#ifdef ELR_TRAIN_TESTS_ON_GPU
  if (!start_device(DeviceType::CUDA, &why)) {
    WARN("no CUDA device: " << why);
    std::exit(77);
  }
#else
  REQUIRE(start_device(DeviceType::CUDA, &why));
#endif
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("cuda backend: plain-4 trains on CUDA like the CPU backend, as a graph and eagerly", "[cuda][train]") {
  start_cuda();
  for (const char* control : {"none", "uniform-elr"}) {
    INFO("lr-control " << control);
    const Trace cpu = run("cpu", control), graph = run("graph", control), eager = run("eager", control);
    INFO("graph note: " << graph.result.cuda_graph_note);
    CHECK(cpu.result.step_mode == "cpu");
    CHECK(graph.result.step_mode == "cuda graph");
    CHECK(graph.result.cuda_graph_note.empty());
    CHECK(eager.result.step_mode == "cuda eager");
    CHECK(eager.result.cuda_graph_note.find("--no-cuda-graph") != std::string::npos);
    for (const Trace* t : {&cpu, &graph, &eager}) REQUIRE(t->losses.size() == size_t(kSteps));

    // The graph replays the eager step's kernels in the same order: the same bits.
    for (size_t s = 0; s < size_t(kSteps); ++s) {
      INFO("step " << s);
      REQUIRE(graph.losses[s] == eager.losses[s]);
      for (size_t l = 0; l < graph.layers[s].size(); ++l) {
        REQUIRE(graph.layers[s][l].w2 == eager.layers[s][l].w2);
        REQUIRE(graph.layers[s][l].g2 == eager.layers[s][l].g2);
        REQUIRE(graph.layers[s][l].lr == eager.layers[s][l].lr);
        REQUIRE(graph.layers[s][l].dw2 == eager.layers[s][l].dw2);
      }
    }
    // The device's LR control is the host's rule: on the device step's own statistics, the host
    // controller (same schedule, reference frozen at step 0) decides the same bits.
    {
      const TrainConfig c = tiny_config("cuda", control, "graph");
      LrController host(schedule_config(c, c.steps), lr_control_config(c));
      for (size_t s = 0; s < size_t(kSteps); ++s) {
        INFO("step " << s);
        std::vector<LayerStats> layers = graph.layers[s];
        host.decide(int64_t(s), layers);
        for (size_t l = 0; l < layers.size(); ++l) REQUIRE(layers[l].lr == graph.layers[s][l].lr);
      }
    }
    // CUDA and the CPU backend agree within float tolerance.
    double worst_loss = 0, worst_elr = 0, worst_lr = 0;
    for (size_t s = 0; s < size_t(kSteps); ++s) {
      worst_loss = std::max(worst_loss, std::abs(graph.losses[s] - cpu.losses[s]) / std::abs(cpu.losses[s]));
      REQUIRE(graph.layers[s].size() == cpu.layers[s].size());
      for (size_t l = 0; l < cpu.layers[s].size(); ++l) {
        const LayerStats &a = graph.layers[s][l], &b = cpu.layers[s][l];
        CHECK(a.name == b.name);
        INFO("step " << s << " layer " << b.name);
        CHECK(a.w2 == Approx(b.w2).epsilon(1e-4));
        worst_lr = std::max(worst_lr, std::abs(a.lr - b.lr) / b.lr);
        if (b.scale_invariant) worst_elr = std::max(worst_elr, std::abs(a.elr() - b.elr()) / b.elr());
      }
    }
    WARN("worst relative difference to the CPU: loss " << worst_loss << ", ELR " << worst_elr << ", lr " << worst_lr);
    CHECK(worst_loss <= 1e-4);
    CHECK(worst_elr <= 1e-3);
    CHECK(worst_lr <= 1e-3);
  }
}

TEST_CASE("cuda backend: a device-step run resumed from its checkpoint writes what an uninterrupted run writes",
          "[cuda][train][resume]") {
  start_cuda();
  // 34 steps: records reach the host 16 steps after their drain (step 31 brings steps 0..15), so a
  // SIGINT seen then leaves steps 16..31 on the device, and the run goes on past them.
  constexpr int kLongSteps = 34;
  TrainConfig whole = tiny_config("cuda", "uniform-elr", "whole");
  whole.steps = kLongSteps;
  train(whole);

  TrainConfig crashed = tiny_config("cuda", "uniform-elr", "crashed");
  crashed.steps = kLongSteps;
  crashed.checkpoint_every = 8;
  // Steps reach the host in bursts; the crash comes after the checkpoint at step 8 was written.
  REQUIRE_THROWS_WITH(train(crashed,
                            [](int64_t step, double, const std::vector<LayerStats>&) {
                              if (step == 10) throw std::runtime_error("simulated crash");
                            }),
                      "simulated crash");
  TrainConfig resumed = crashed;
  resumed.resume = true;
  const TrainResult r = train(resumed);
  CHECK(r.steps == kLongSteps);
  CHECK(r.step_mode == "cuda graph");
  const std::string a = read_file(whole.out + "/layers.csv"), b = read_file(crashed.out + "/layers.csv");
  REQUIRE(!a.empty());
  CHECK(a == b);

  // SIGINT between steps: the records of every enqueued step reach the logs before the checkpoint.
  TrainConfig interrupted = tiny_config("cuda", "uniform-elr", "interrupted");
  interrupted.steps = kLongSteps;
  const TrainResult stopped = train(interrupted, [](int64_t step, double, const std::vector<LayerStats>&) {
    if (step == 5) std::raise(SIGINT);
  });
  CHECK(stopped.interrupted_by == SIGINT);
  CHECK(stopped.steps > 16);  // steps enqueued after the signal was raised are logged too
  CHECK(stopped.steps < kLongSteps);
  CHECK(load_safetensors(interrupted.out + "/checkpoint.safetensors").metadata.at("next_step") ==
        std::to_string(stopped.steps));
  const std::string partial = read_file(interrupted.out + "/layers.csv");
  CHECK(partial == a.substr(0, partial.size()));
  CHECK(partial.find("\n" + std::to_string(stopped.steps - 1) + ",") != std::string::npos);
  TrainConfig continued = interrupted;
  continued.resume = true;
  CHECK(train(continued).steps == kLongSteps);
  CHECK(read_file(interrupted.out + "/layers.csv") == a);
}

TEST_CASE("cuda backend: a diverging device-step run stops at the step the CPU run stops at", "[cuda][train][divergence]") {
  start_cuda();
  // lr 1e30 overflows within a few steps; the device step learns it from records that reach the
  // host every few steps, yet must report and log exactly what the CPU run does.
  auto diverging = [](const std::string& device) {
    TrainConfig c = tiny_config(device, "none", "diverge_" + device);
    c.lr = 1e30;
    c.schedule = ScheduleKind::Constant;
    return c;
  };
  const TrainConfig cpu_config = diverging("cpu"), gpu_config = diverging("cuda");
  const TrainResult cpu = train(cpu_config), gpu = train(gpu_config);
  REQUIRE(cpu.diverged);
  CHECK(gpu.diverged);
  CHECK(gpu.diverged_step == cpu.diverged_step);
  CHECK(gpu.steps == cpu.steps);
  CHECK(gpu.steps == gpu.diverged_step + 1);
  CHECK(gpu.divergence == cpu.divergence);
  const std::string cpu_log = read_file(cpu_config.out + "/layers.csv"), gpu_log = read_file(gpu_config.out + "/layers.csv");
  // The same steps are logged (the values differ in the last bits).
  CHECK(std::count(gpu_log.begin(), gpu_log.end(), '\n') == std::count(cpu_log.begin(), cpu_log.end(), '\n'));
}
