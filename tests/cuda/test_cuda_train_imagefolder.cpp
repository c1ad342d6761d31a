// ResNet-50 on the generated JPEG folder through the CUDA path (the CUDA backend's kernels, the
// 3x3 stride-2 max-pool included, and the device step) against the CPU backend, at a tiny image
// size and width: same seed, same batches, the same losses within float tolerance. Built with
// tests/cuda/test_cuda_train.cpp (the CPU execution layer in CI, a GPU where there is one).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/cuda_backend/backend.h"
#include "engine/device.h"
#include "experiments/run/train.h"
#include "tests/image_folder_fixture.h"

using namespace elr;

namespace {

std::vector<double> losses(const std::string& device) {
  TrainConfig c;
  c.model.name = "resnet-imagenet";
  c.model.depth = 50;
  c.model.width = 2;
  c.dataset = "imagefolder";
  c.data_dir = testing::test_image_folder();
  c.image_folder.image_size = 16;
  c.batch = 4;
  c.steps = 3;
  c.lr = 0.05;
  c.device = Device::parse(device);
  c.progress = false;
  c.evaluate = false;
  c.out = testing::temp_dir("cuda_imagefolder_" + device);
  std::vector<double> out;
  const TrainResult r = train(c, [&](int64_t, double loss, const std::vector<LayerStats>&) { out.push_back(loss); });
  CHECK(r.steps == c.steps);
  return out;
}

}  // namespace

TEST_CASE("cuda backend: resnet-imagenet-50 trains on a JPEG folder as on the CPU", "[cuda][train][imagenet]") {
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
  const std::vector<double> cpu = losses("cpu"), cuda = losses("cuda");
  REQUIRE(cpu.size() == 3);
  REQUIRE(cuda.size() == cpu.size());
  for (size_t s = 0; s < cpu.size(); ++s) {
    INFO("step " << s);
    CHECK(std::isfinite(cpu[s]));
    CHECK(cuda[s] == Approx(cpu[s]).epsilon(1e-4));
  }
}
