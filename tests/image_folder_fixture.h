// The tests' generated JPEG folder (written once per test process): 3 classes of odd-sized RGB
// images, 4 for training and 2 for validation per class, and in class1's training folder three
// more: a grayscale, a CMYK and a progressive JPEG.
#pragma once
#include <cstdlib>
#include <string>
#include <vector>

#include "experiments/data/jpeg.h"
#include "experiments/data/synthetic_image_folder.h"
#include "test_util.h"

namespace elr::testing {

constexpr int kFolderClasses = 3;
constexpr int kFolderTrainImages = 3 * 4 + 3;
constexpr int kFolderValImages = 3 * 2;

// A height x width x channels test pattern.
inline std::vector<uint8_t> pattern_pixels(int height, int width, int channels) {
  std::vector<uint8_t> p(size_t(height) * width * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        p[(size_t(y) * width + x) * channels + c] = uint8_t(c == 3 ? 255 : (x * 9 + y * 5 + c * 70) % 256);
  return p;
}

inline std::string make_test_image_folder(const std::string& root) {
  SyntheticFolderSpec spec;
  spec.classes = kFolderClasses;
  spec.train_per_class = 4;
  spec.val_per_class = 2;
  spec.height = 37;
  spec.width = 51;
  spec.seed = 5;
  write_synthetic_image_folder(root, spec);
  const std::string extra = root + "/train/class1/";
  write_jpeg(extra + "gray.jpg", pattern_pixels(33, 29, 1).data(), 33, 29, 1);
  write_jpeg(extra + "cmyk.jpeg", pattern_pixels(30, 41, 4).data(), 30, 41, 4);
  JpegWriteOptions progressive;
  progressive.progressive = true;
  write_jpeg(extra + "progressive.JPG", pattern_pixels(45, 40, 3).data(), 45, 40, 3, progressive);
  return root;
}

inline const std::string& test_image_folder() {
  static const std::string root = make_test_image_folder(temp_dir("imagefolder"));
  return root;
}

}  // namespace elr::testing
