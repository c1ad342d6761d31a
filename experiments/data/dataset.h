// Image data sets and the readers that fill them: in memory (raw uint8 pixels, CHW per image)
// Fashion-MNIST (gzip or plain IDX files), CIFAR-10/100 (binary format) and a synthetic generator;
// on disk the image folder (image_folder.h: JPEG files the batch loader decodes).
// Every reader error is an elr::UserError whose one-line message names the file and the problem.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace elr {

struct ImageFiles;  // image_folder.h

// How the image folder (image_folder.h) is read.
struct ImageFolderOptions {
  int image_size = 224;       // the side of the square crops the loader makes
  int threads = 0;            // decoding threads of the loader and of the check below (0: one per core)
  bool skip_corrupt = false;  // decode every image once when the folder is loaded and leave out the
                              // unreadable ones (with a count), instead of failing at the first
};

struct Dataset {
  std::string name;  // "fashion-mnist-train", "cifar10-test", "synthetic", "imagefolder-train", ...
  int channels = 0, height = 0, width = 0, classes = 0;
  std::vector<uint8_t> images;  // size() * channels * height * width bytes, image after image
  std::vector<int32_t> labels;  // size() entries in [0, classes)
  // An image folder's files, which the loader decodes to channels x height x width; `images` is
  // then empty. Null for the in-memory sets.
  std::shared_ptr<const ImageFiles> files;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return static_cast<int64_t>(channels) * height * width; }
  const uint8_t* image(int64_t i) const { return images.data() + i * image_bytes(); }
};

// The Fashion-MNIST folder: $ELR_FASHION_MNIST_DIR when set and non-empty, else the folder the
// Debian package dataset-fashion-mnist installs (/usr/share/datasets/fashion-mnist).
std::string default_fashion_mnist_dir();

// Reads train-images-idx3-ubyte.gz + train-labels-idx1-ubyte.gz (or t10k-* when !train) from
// dir; each file may also be present uncompressed under the same name without ".gz".
Dataset load_fashion_mnist(const std::string& dir, bool train);

// CIFAR binary format. variant 10: data_batch_1..5.bin (train) or test_batch.bin, records of
// <label byte><3072 pixel bytes>. variant 100: train.bin or test.bin, records of <coarse label>
// <fine label><3072 pixel bytes>; the fine label (100 classes) is used. The files may also sit in
// the folder the official archive extracts to (cifar-10-batches-bin/ or cifar-100-binary/).
Dataset load_cifar(const std::string& dir, int variant, bool train);

// A deterministic, learnable data set: each class has its own oriented grating and colour plus
// a fixed random texture, and every image adds Gaussian pixel noise. Image i depends only on
// (seed, i, shape, classes), so a larger n extends a smaller one.
Dataset make_synthetic(int64_t n, int channels, int height, int width, int classes, uint64_t seed);

// The data sets a command can name with --dataset / --data-dir.
// Throws UserError naming the option when the name is unknown or the folder is missing.
void validate_dataset_choice(const std::string& dataset, const std::string& data_dir);
// Training (train = true) or test images of a named data set. The synthetic set has
// `synthetic_size` training images and a quarter as many test images, continuing the sequence;
// the image folder reads ROOT/train or ROOT/val of data_dir with `folder`'s options.
Dataset load_named_dataset(const std::string& dataset, const std::string& data_dir, bool train,
                           int64_t synthetic_size, uint64_t synthetic_seed, const ImageFolderOptions& folder = {});
// Whether training batches of the data set are augmented unless asked otherwise: CIFAR's crop and
// flip, the image folder's random resized crop and flip.
bool augmented_by_default(const std::string& dataset);

// Per-channel mean and standard deviation (population) of the pixels scaled to [0, 1]; for an
// image folder ImageNet's (its images stay on disk).
struct Normalization {
  std::vector<float> mean, std;
};
Normalization channel_normalization(const Dataset& data);

}  // namespace elr
