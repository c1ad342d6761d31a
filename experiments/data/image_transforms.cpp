#include "experiments/data/image_transforms.h"

#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/rng.h"

namespace elr {

namespace {

constexpr int kPrecisionBits = 22;  // PIL's PRECISION_BITS for 8-bit images: 32 - 8 - 2

// PIL's clip8: the fixed-point sum back to 8 bits.
inline uint8_t clip8(int64_t v) {
  if (v >= (int64_t(255) << kPrecisionBits)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// One axis of PIL's resample (precompute_coeffs, normalize_coeffs_8bpc) for resizing `in_size`
// pixels to `out_size`: per output pixel in [out_first, out_first + out_count), the first input
// pixel it reads, how many, and their fixed-point weights (ksize slots per output).
struct AxisWeights {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

AxisWeights axis_weights(int in_size, int out_size, int out_first, int out_count) {
  const double scale = double(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;  // the triangle's support is 1
  const double ss = 1.0 / filterscale;
  AxisWeights a;
  a.ksize = int(std::ceil(support)) * 2 + 1;
  a.first.resize(out_count);
  a.count.resize(out_count);
  a.weights.assign(size_t(out_count) * a.ksize, 0);
  std::vector<double> k(a.ksize);
  for (int o = 0; o < out_count; ++o) {
    const double center = (out_first + o + 0.5) * scale;
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double t = std::abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1.0 ? 1.0 - t : 0.0;
      total += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      const double scaled = w * (1 << kPrecisionBits);
      a.weights[size_t(o) * a.ksize + x] = int32_t(w < 0 ? scaled - 0.5 : scaled + 0.5);
    }
    a.first[o] = xmin;
    a.count[o] = xmax;
  }
  return a;
}

// Resizes `box` of the image (as an image of its own: the filter never reads outside it) to
// out_height x out_width and writes the window of size x size pixels at (top, left) of the result
// as CHW planes, its columns mirrored when flip.
void resize_window(const RgbImage& image, const CropBox& box, int out_height, int out_width, int top, int left,
                   int size, bool flip, uint8_t* chw) {
  ELR_CHECK(box.top >= 0 && box.left >= 0 && box.height > 0 && box.width > 0 &&
                box.top + box.height <= image.height && box.left + box.width <= image.width,
            "resize_window: box {}x{} at ({}, {}) outside the {}x{} image", box.height, box.width, box.top, box.left,
            image.height, image.width);
  const AxisWeights cols = axis_weights(box.width, out_width, left, size);
  const AxisWeights rows = axis_weights(box.height, out_height, top, size);
  // The horizontal pass, over the rows the vertical pass reads.
  const int row_first = rows.first.front(), row_last = rows.first.back() + rows.count.back();
  std::vector<uint8_t> tmp(size_t(row_last - row_first) * size * 3);
  for (int y = row_first; y < row_last; ++y) {
    const uint8_t* src = image.pixels.data() + (size_t(box.top + y) * image.width + box.left) * 3;
    uint8_t* dst = tmp.data() + size_t(y - row_first) * size * 3;
    for (int j = 0; j < size; ++j) {
      const int32_t* k = cols.weights.data() + size_t(j) * cols.ksize;
      const uint8_t* p = src + size_t(cols.first[j]) * 3;
      int64_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < cols.count[j]; ++x) {
        s0 += int64_t(p[3 * x]) * k[x];
        s1 += int64_t(p[3 * x + 1]) * k[x];
        s2 += int64_t(p[3 * x + 2]) * k[x];
      }
      dst[3 * j] = clip8(s0);
      dst[3 * j + 1] = clip8(s1);
      dst[3 * j + 2] = clip8(s2);
    }
  }
  // The vertical pass, into the planes.
  const size_t plane = size_t(size) * size;
  for (int i = 0; i < size; ++i) {
    const int32_t* k = rows.weights.data() + size_t(i) * rows.ksize;
    const uint8_t* src = tmp.data() + size_t(rows.first[i] - row_first) * size * 3;
    for (int j = 0; j < size; ++j) {
      int64_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int y = 0; y < rows.count[i]; ++y) {
        const uint8_t* p = src + (size_t(y) * size + j) * 3;
        s0 += int64_t(p[0]) * k[y];
        s1 += int64_t(p[1]) * k[y];
        s2 += int64_t(p[2]) * k[y];
      }
      const size_t o = size_t(i) * size + (flip ? size - 1 - j : j);
      chw[o] = clip8(s0);
      chw[plane + o] = clip8(s1);
      chw[2 * plane + o] = clip8(s2);
    }
  }
}

// Python's round(): halves to even (the default floating-point rounding mode).
inline int round_half_even(double v) { return static_cast<int>(std::nearbyint(v)); }

}  // namespace

TrainCrop draw_train_crop(int height, int width, uint64_t seed, int64_t epoch, int64_t position) {
  const uint64_t stream = kStreamAugment + static_cast<uint64_t>(epoch);
  const uint64_t base = uint64_t(kTrainCropDraws) * static_cast<uint64_t>(position);
  Rng rng(seed, stream, base);
  auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * (rng.next_u32() * (1.0 / 4294967296.0)); };
  const double area = double(height) * width;
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  TrainCrop crop;
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target_area = area * uniform(0.08, 1.0);
    const double aspect = std::exp(uniform(log_lo, log_hi));
    const int w = round_half_even(std::sqrt(target_area * aspect));
    const int h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      crop.box.top = static_cast<int>(rng.below(static_cast<uint32_t>(height - h + 1)));
      crop.box.left = static_cast<int>(rng.below(static_cast<uint32_t>(width - w + 1)));
      crop.box.height = h;
      crop.box.width = w;
      found = true;
    }
  }
  if (!found) {  // the centred box of the clamped aspect ratio
    const double ratio = double(width) / height;
    int w = width, h = height;
    if (ratio < 3.0 / 4.0) {
      h = round_half_even(w / (3.0 / 4.0));
    } else if (ratio > 4.0 / 3.0) {
      w = round_half_even(h * (4.0 / 3.0));
    }
    crop.box = CropBox{(height - h) / 2, (width - w) / 2, h, w};
  }
  // The last draw of the sample's block: the flip never shifts with the number of attempts.
  crop.flip = philox_u32(seed, stream, base + kTrainCropDraws - 1) >> 31;
  return crop;
}

EvalCrop eval_crop(int height, int width, int size) {
  const int resize = size * 8 / 7;
  EvalCrop e;
  // torchvision's Resize(int): the shorter side to `resize`, the longer one scaled and truncated.
  if (width <= height) {
    e.resized_width = resize;
    e.resized_height = static_cast<int>(double(resize) * height / width);
  } else {
    e.resized_height = resize;
    e.resized_width = static_cast<int>(double(resize) * width / height);
  }
  e.box = CropBox{round_half_even((e.resized_height - size) / 2.0), round_half_even((e.resized_width - size) / 2.0),
                  size, size};
  return e;
}

void train_transform(const RgbImage& image, const TrainCrop& crop, int size, uint8_t* chw) {
  resize_window(image, crop.box, size, size, 0, 0, size, crop.flip, chw);
}

void eval_transform(const RgbImage& image, int size, uint8_t* chw) {
  const EvalCrop e = eval_crop(image.height, image.width, size);
  resize_window(image, CropBox{0, 0, image.height, image.width}, e.resized_height, e.resized_width, e.box.top,
                e.box.left, size, false, chw);
}

}  // namespace elr
