#include "bench/gpu/step_rows.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>

#include "bench/cpu/kernel_bench.h"
#include "bench/cpu/step_bench.h"
#include "bench/gpu/device_buffer.h"
#include "bench/gpu/event_timer.h"
#include "bench/gpu/row_harness.h"
#include "engine/device.h"
#include "engine/error.h"
#include "layers/models.h"
#include "optim/batch.h"
#include "optim/sgd.h"
#include "optim/train_step.h"

namespace elr::bench::gpu {

namespace {

using Clock = std::chrono::steady_clock;

// One engine: its own model, optimizer and training step on the CUDA device (eager or graph).
class EngineSide {
 public:
  EngineSide(const StepNet& net, bool graph, int64_t total_steps) {
    model_ = build_model(net.model);
    model_->reset_parameters(0);
    model_->to(Device::cuda());
    sgd_ = std::make_unique<Sgd>(model_->parameters(), SgdConfig{0.9, 0.0, false});
    ScheduleConfig schedule;  // the default run's optimizer: lr 0.1, constant, no LR control
    schedule.lr = 0.1;
    schedule.total_steps = total_steps;
    CudaStepOptions options;
    options.cuda_graph = graph;
    const Shape image_shape = {net.batch, net.model.in_channels, net.model.image_size, net.model.image_size};
    step_ = make_train_step(*model_, *sgd_, schedule, LrControlConfig{}, 0.0, image_shape, options);
  }
  // Enqueues `count` steps and waits for them.
  void run_untimed(const std::vector<Batch>& batches, int count) {
    for (int i = 0; i < count; ++i) step_->enqueue(batches[next_++ % batches.size()]);
    step_->take_records(true);
  }
  // Seconds of one step, from the enqueue until its record is on the host.
  double run_timed(const std::vector<Batch>& batches) {
    const auto t0 = Clock::now();
    step_->enqueue(batches[next_++ % batches.size()]);
    step_->take_records(true);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }
  bool graph_active() const { return step_->mode() == "cuda graph"; }
  std::string graph_note() const { return step_->graph_note(); }

 private:
  std::shared_ptr<Module> model_;
  std::unique_ptr<Sgd> sgd_;
  std::unique_ptr<TrainStep> step_;
  size_t next_ = 0;
};

std::unique_ptr<PytorchPeer> start_cuda_peer(const GpuBenchRequest& r, const StepNet& net) {
  return std::make_unique<PytorchPeer>(r.python, r.script.empty() ? default_pytorch_script() : r.script, net,
                                       r.threads, "cuda");
}

}  // namespace

std::vector<StepNet> gpu_step_nets() {
  std::vector<StepNet> out;
  for (const StepNet& n : default_step_nets())
    if (n.model.in_channels == 3 && n.model.image_size == 32) out.push_back(n);
  return out;
}

StepNet tiny_step_net() {
  StepNet net;
  net.label = "plain-4";
  net.model.name = "plain";
  net.model.depth = 4;
  net.model.width = 8;
  net.model.in_channels = 3;
  net.model.image_size = 8;
  net.model.classes = 10;
  net.batch = 4;
  return net;
}

StatsTiming time_stats_lr_control(const std::vector<int64_t>& sizes, int repeats, kernels::Stream stream) {
  std::vector<DeviceBuffer<float>> w, g, v;
  std::vector<kernels::MultiTensorDesc> descs;
  uint32_t seed = 500;
  for (int64_t n : sizes) {
    w.emplace_back(random_floats(n, seed++));
    g.emplace_back(random_floats(n, seed++, -0.1f, 0.1f));
    v.emplace_back(random_floats(n, seed++, -0.2f, 0.2f));
    descs.push_back({w.back().get(), g.back().get(), v.back().get(), n});
  }
  kernels::MultiTensorList list = kernels::make_multi_tensor_list(descs.data(), static_cast<int>(descs.size()));
  struct Free {
    kernels::MultiTensorList& l;
    ~Free() { kernels::free_multi_tensor_list(l); }
  } free_list{list};
  const int layers = static_cast<int>(sizes.size());
  DeviceBuffer<kernels::TensorStats> stats(sizes.size());
  DeviceBuffer<uint8_t> flags(std::vector<uint8_t>(sizes.size(), 0));
  DeviceBuffer<double> reference_elr(std::vector<double>{0.0}), lrs(sizes.size()), global_lr(1);
  kernels::LrControlArgs args;  // the step's controller: none (the scheduled LR for every layer)
  args.kind = kernels::LrControlKind::None;
  args.target_lr = args.base_lr = 0.1;
  auto run = [&] {
    kernels::tensor_stats_cuda(list, stats.get(), stream);
    kernels::lr_control_cuda(layers, stats.get(), flags.get(), args, reference_elr.get(), lrs.get(), global_lr.get(),
                             stream);
  };
  EventTimer timer;
  std::vector<double> times;
  run();
  run();
  for (int r = 0; r < std::max(repeats, 1); ++r) times.push_back(timer.seconds(stream, run));
  return {median_of(times), minimum_of(times)};
}

GpuStepRow bench_gpu_step(const StepNet& net, const GpuBenchRequest& r) {
  GpuStepRow row;
  row.net = net.label;
  row.description = describe_step_net(net);
  row.batch = net.batch;

  const std::vector<int64_t> sizes = parameter_sizes(net.model);
  row.parameter_tensors = static_cast<int>(sizes.size());
  {
    cudaStream_t stream = nullptr;
    ELR_CUDA_CHECK(cudaStreamCreate(&stream));
    try {
      const StatsTiming t = time_stats_lr_control(sizes, 20, stream);
      row.stats_median_s = t.median_s;
      row.stats_min_s = t.min_s;
    } catch (const std::exception& e) {
      row.engine_error = fmt::format("statistics timing failed: {}", e.what());
    }
    cudaStreamDestroy(stream);
  }

  const std::vector<Batch> batches = synthetic_batches(net, 0);
  const int64_t total_steps = int64_t(r.warmup + 2 + r.rounds * (r.steps_per_round + 1)) + 16;
  std::unique_ptr<EngineSide> eager, graph;
  try {
    std::string why;
    if (!start_device(DeviceType::CUDA, &why)) throw Error(fmt::format("the CUDA backend did not start: {}", why));
    eager = std::make_unique<EngineSide>(net, false, total_steps);
    graph = std::make_unique<EngineSide>(net, true, total_steps);
    // At least one eager warm-up step each: the graph side captures its graph after it.
    eager->run_untimed(batches, std::max(r.warmup, 1) + 1);
    graph->run_untimed(batches, std::max(r.warmup, 1) + 1);
    row.graph_active = graph->graph_active();
    row.graph_note = graph->graph_note();
  } catch (const std::exception& e) {
    row.engine_error = e.what();
    eager.reset();
    graph.reset();
  }

  std::unique_ptr<PytorchPeer> peer;
  if (r.pytorch) {
    try {
      peer = start_cuda_peer(r, net);
      row.pytorch_version = peer->version();
      if (r.warmup > 0) peer->run(r.warmup + 2);
    } catch (const std::exception& e) {
      row.pytorch_error = e.what();
      peer.reset();
    }
  } else {
    row.pytorch_error = "not run (--no-pytorch)";
  }

  for (int round = 0; round < r.rounds; ++round) {
    try {
      if (eager) {
        eager->run_untimed(batches, 1);  // the other side's work may still be draining
        for (int i = 0; i < r.steps_per_round; ++i) row.eager_s.push_back(eager->run_timed(batches));
      }
      if (graph) {
        graph->run_untimed(batches, 1);
        for (int i = 0; i < r.steps_per_round; ++i) row.graph_s.push_back(graph->run_timed(batches));
      }
    } catch (const std::exception& e) {
      row.engine_error = e.what();
      eager.reset();
      graph.reset();
    }
    if (peer) {
      try {
        const std::vector<double> times = peer->run(r.steps_per_round + 1);
        row.pytorch_s.insert(row.pytorch_s.end(), times.begin() + 1, times.end());
      } catch (const std::exception& e) {
        row.pytorch_error = e.what();
        peer.reset();
      }
    }
  }
  row.eager_median_s = median_of(row.eager_s);
  row.eager_min_s = minimum_of(row.eager_s);
  row.graph_median_s = median_of(row.graph_s);
  row.graph_min_s = minimum_of(row.graph_s);
  row.pytorch_median_s = median_of(row.pytorch_s);
  row.pytorch_min_s = minimum_of(row.pytorch_s);
  return row;
}

}  // namespace elr::bench::gpu
