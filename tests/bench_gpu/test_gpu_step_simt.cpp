// The step rows of the GPU suite (bench/gpu/step_rows.cpp) on the CPU execution layer: the engine's
// CUDA step eager and as a graph, and the statistics + LR-control timing, on a tiny net.
#include <catch2/catch.hpp>

#include "bench/gpu/step_rows.h"
#include "engine/cuda_backend/backend.h"
#include "engine/device.h"

using namespace elr;

TEST_CASE("gpu bench: step rows time the engine eager and as a graph on a tiny net", "[gpu_bench][step]") {
  set_device_starter(DeviceType::CUDA, &cuda_backend::start);
  const bench::StepNet net = bench::gpu::tiny_step_net();
  bench::GpuBenchRequest r;
  r.steps = true;
  r.rounds = 2;
  r.steps_per_round = 2;
  r.warmup = 1;
  r.pytorch = false;
  const bench::GpuStepRow row = bench::gpu::bench_gpu_step(net, r);
  INFO(row.engine_error << " / " << row.graph_note);
  CHECK(row.engine_error.empty());
  REQUIRE(row.eager_s.size() == 4);
  REQUIRE(row.graph_s.size() == 4);
  CHECK(row.graph_active);
  CHECK(row.eager_median_s > 0);
  CHECK(row.graph_min_s > 0);
  CHECK(row.graph_min_s <= row.graph_median_s);
  CHECK(row.stats_median_s > 0);
  CHECK(row.parameter_tensors > 4);
  CHECK(row.pytorch_s.empty());
  CHECK(row.pytorch_error == "not run (--no-pytorch)");
  CHECK(row.graph_ratio() == 0);  // no PyTorch time, no ratio
}
