// The image-folder data set: torchvision's ImageFolder layout, ROOT/train/<class>/... and
// ROOT/val/<class>/..., JPEG files (.jpg or .jpeg in any case, in the class folder or below it)
// labelled by their class folder; the classes are the sorted folder names of ROOT/train. The
// images stay on disk: the batch loader decodes each when its batch is made and applies the
// training or the evaluation transform (image_transforms.h) to image_size x image_size.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "experiments/data/dataset.h"

namespace elr {

// What a Dataset of an image folder holds in place of pixels.
struct ImageFiles {
  std::vector<std::string> paths;  // one per sample
  int threads = 0;                 // ImageFolderOptions::threads
  int64_t skipped = 0;             // unreadable images left out (skip_corrupt)
};

// The training (ROOT/train) or evaluation (ROOT/val) images, read as `options` say (dataset.h).
// UserError naming the folder when it is missing, a class folder holds no JPEG, or val's classes
// differ from train's.
Dataset load_image_folder(const std::string& root, bool train, const ImageFolderOptions& options);

// Sample `sample` of an image-folder data set as channels x height x width pixels (CHW): decoded,
// then with augment the training transform with the draws of (seed, epoch, position), else the
// evaluation transform. UserError naming the file when it cannot be decoded.
void image_folder_sample(const Dataset& data, int64_t sample, bool augment, uint64_t seed, int64_t epoch,
                         int64_t position, uint8_t* chw);

// ImageNet's per-channel mean and standard deviation (of RGB scaled to [0, 1]), torchvision's
// Normalize for its ImageNet models.
Normalization imagenet_normalization();

}  // namespace elr
