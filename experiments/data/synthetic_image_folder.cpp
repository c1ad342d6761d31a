#include "experiments/data/synthetic_image_folder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/files.h"
#include "engine/rng.h"
#include "experiments/data/jpeg.h"

namespace elr {

namespace {

// One image of class k; `id` tells images apart (the noise, the size).
std::vector<uint8_t> synthetic_image(const SyntheticFolderSpec& spec, int k, uint64_t id, int& height, int& width) {
  auto draw = [&](uint64_t i) { return philox_u32(spec.seed, kStreamSynthetic + 10, id * 8 + i); };
  height = spec.height;
  width = spec.width;
  if (spec.vary_size) {
    height += static_cast<int>(draw(0) % uint32_t(spec.height / 2 + 1)) - spec.height / 4;
    width += static_cast<int>(draw(1) % uint32_t(spec.width / 2 + 1)) - spec.width / 4;
  }
  height = std::max(height, 1);
  width = std::max(width, 1);
  const double kPi = 3.141592653589793;
  const double theta = kPi * k / spec.classes, freq = 2.0 + k % 3, extent = std::max(height, width);
  const double phase = 2 * kPi * u32_to_unit_float(draw(2));
  std::vector<uint8_t> pixels(size_t(height) * width * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double grating =
          std::cos(2 * kPi * freq * (x * std::cos(theta) + y * std::sin(theta)) / extent + phase);
      for (int ch = 0; ch < 3; ++ch) {
        const double colour = 2.0 * u32_to_unit_float(philox_u32(spec.seed, kStreamSynthetic + 11, k * 3 + ch)) - 1.0;
        const uint64_t at = (id << 32) + (uint64_t(y) * width + x) * 3 + ch;
        const double noise = 2.0 * u32_to_unit_float(philox_u32(spec.seed, kStreamSynthetic + 12, at)) - 1.0;
        const double v = 128.0 + 60.0 * grating + 50.0 * colour + 25.0 * noise;
        pixels[(size_t(y) * width + x) * 3 + ch] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return pixels;
}

}  // namespace

int64_t write_synthetic_image_folder(const std::string& root, const SyntheticFolderSpec& spec) {
  ELR_CHECK(spec.classes > 0 && spec.classes < 4096 && spec.train_per_class > 0 && spec.val_per_class > 0 &&
                std::max(spec.train_per_class, spec.val_per_class) < (1 << 20) && spec.height > 0 && spec.width > 0,
            "write_synthetic_image_folder: bad spec ({} classes, {}/{} images per class, {}x{})", spec.classes,
            spec.train_per_class, spec.val_per_class, spec.height, spec.width);
  int64_t written = 0;
  JpegWriteOptions jpeg;
  jpeg.quality = spec.quality;
  for (int split = 0; split < 2; ++split) {
    const int per_class = split == 0 ? spec.train_per_class : spec.val_per_class;
    for (int k = 0; k < spec.classes; ++k) {
      const std::string folder = fmt::format("{}/{}/class{}", root, split == 0 ? "train" : "val", k);
      make_directories(folder);
      for (int i = 0; i < per_class; ++i) {
        // Distinct per image, and small: the noise counters are id * 2^32 + pixel channel.
        const uint64_t id = ((uint64_t(split) * spec.classes + k) << 20) + uint64_t(i);
        int height = 0, width = 0;
        const std::vector<uint8_t> pixels = synthetic_image(spec, k, id, height, width);
        write_jpeg(fmt::format("{}/{}_{}.JPEG", folder, k, i), pixels.data(), height, width, 3, jpeg);
        ++written;
      }
    }
  }
  return written;
}

}  // namespace elr
