// The image-folder transforms of torchvision's ImageNet recipe, on 8-bit RGB, to square crops:
//   training:   RandomResizedCrop(size) (area 8%-100%, aspect ratio 3/4-4/3), RandomHorizontalFlip
//   evaluation: Resize(size * 8 / 7, rounded down; 256 for 224) of the shorter side, CenterCrop(size)
// Resizing is PIL's bilinear filter, which torchvision runs on PIL images: a triangle filter
// stretched by the scale factor when shrinking (so it averages, it does not alias), 22-bit
// fixed-point weights, a horizontal pass then a vertical pass, each rounded to 8 bits. The random
// draws are Philox draws of (seed, epoch, position), not torch's generator.
#pragma once
#include <cstdint>

#include "experiments/data/jpeg.h"

namespace elr {

struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

// torchvision's RandomResizedCrop.get_params: up to 10 draws of an area share and a log-uniform
// aspect ratio, the first whose box fits placed uniformly at random; after 10 misses the centred
// box of the image's aspect ratio clamped to [3/4, 4/3]. Then a fair coin for the flip. The draws
// come from Rng(seed, kStreamAugment + epoch) at counters kTrainCropDraws * position onwards, so
// they never depend on threads or prefetching.
struct TrainCrop {
  CropBox box;
  bool flip = false;
};
constexpr int kTrainCropDraws = 64;
TrainCrop draw_train_crop(int height, int width, uint64_t seed, int64_t epoch, int64_t position);

// The evaluation transform's geometry: the resized image's size and the centre crop's box in it.
struct EvalCrop {
  int resized_height = 0, resized_width = 0;
  CropBox box;
};
EvalCrop eval_crop(int height, int width, int size);

// The transforms' output: size x size RGB pixels as three planes (CHW), for the batch loader.
// train: `box` of the image resized to size x size, mirrored when flip.
void train_transform(const RgbImage& image, const TrainCrop& crop, int size, uint8_t* chw);
// eval: the image resized as eval_crop says, and its centre crop.
void eval_transform(const RgbImage& image, int size, uint8_t* chw);

}  // namespace elr
