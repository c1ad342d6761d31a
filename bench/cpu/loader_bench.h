// The image-folder loader's throughput: JPEG decoding, the training transform (random resized crop,
// flip) and normalization, as the batch loader runs them for a training run, on a generated folder
// of ImageNet-sized JPEGs, with 1, 2, ... decoding threads. Images per second per core is the number
// to compare with the training step's images per second.
#pragma once
#include <string>
#include <vector>

namespace elr::bench {

struct LoaderBenchConfig {
  int images = 64;                  // generated JPEGs (4 classes)
  int height = 375, width = 500;    // ImageNet's most common size
  int image_size = 224;             // the crops
  std::vector<int> threads = {1, 2};
  int repeats = 3;                  // timed passes over the folder after one untimed pass; median reported
  std::string folder;               // where the images are generated (default: a fresh temp folder, removed after)
};

struct LoaderRow {
  std::string description;  // "64 JPEGs of 500x375 (quality 90) -> 224x224 random resized crops"
  int threads = 0;
  int images = 0;
  std::vector<double> pass_s;  // every timed pass over the folder
  double median_s = 0;
  double images_per_s() const { return median_s > 0 ? images / median_s : 0; }
  double images_per_s_per_core() const { return threads > 0 ? images_per_s() / threads : 0; }
};

// One row per thread count.
std::vector<LoaderRow> bench_loader(const LoaderBenchConfig& c);

}  // namespace elr::bench
