// A generated image folder (image_folder.h's layout) of JPEG files, for the tests and the loader's
// benchmark: ROOT/train/class<k>/<k>_<i>.JPEG and ROOT/val/class<k>/<k>_<i>.JPEG, RGB images whose
// class shows as a colour and an oriented grating under per-image noise, so a net can learn them.
// Every image depends only on (seed, class, split, index).
#pragma once
#include <cstdint>
#include <string>

namespace elr {

struct SyntheticFolderSpec {
  int classes = 3;
  int train_per_class = 4, val_per_class = 2;
  int height = 48, width = 64;  // with vary_size each image's sides differ by up to a quarter (odd sizes too)
  bool vary_size = true;
  int quality = 90;
  uint64_t seed = 0;
};

// Writes the folder (creating ROOT); returns the number of files written.
int64_t write_synthetic_image_folder(const std::string& root, const SyntheticFolderSpec& spec);

}  // namespace elr
