#include "experiments/data/data_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <utility>

#include "engine/error.h"
#include "engine/rng.h"
#include "experiments/data/image_folder.h"

namespace elr {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!shuffle) return order;
  Rng rng(seed, kStreamShuffle + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = rng.below(static_cast<uint32_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

CropFlip draw_crop_flip(uint64_t seed, int64_t epoch, int64_t position, int pad) {
  // Four counters per sample position: the draw never depends on which thread asks, or when.
  Rng rng(seed, kStreamAugment + static_cast<uint64_t>(epoch), 4 * static_cast<uint64_t>(position));
  CropFlip cf;
  cf.dy = static_cast<int>(rng.below(static_cast<uint32_t>(2 * pad + 1)));
  cf.dx = static_cast<int>(rng.below(static_cast<uint32_t>(2 * pad + 1)));
  cf.flip = rng.uniform() < 0.5f;
  return cf;
}

void crop_flip_image(const uint8_t* src, int channels, int height, int width, int pad, const CropFlip& cf,
                     uint8_t* dst) {
  // Padding pixels are raw 0 (black), as when a padded crop precedes normalization.
  for (int c = 0; c < channels; ++c) {
    const uint8_t* plane = src + static_cast<int64_t>(c) * height * width;
    uint8_t* out = dst + static_cast<int64_t>(c) * height * width;
    for (int y = 0; y < height; ++y) {
      int sy = y + cf.dy - pad;
      for (int x = 0; x < width; ++x) {
        int sx = (cf.flip ? width - 1 - x : x) + cf.dx - pad;
        bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        out[y * width + x] = inside ? plane[sy * width + sx] : 0;
      }
    }
  }
}

DataLoader::DataLoader(const Dataset& data, int64_t batch_size, uint64_t seed, bool shuffle, bool augment,
                       bool drop_last, Normalization norm, bool prefetch)
    : data_(data),
      batch_size_(batch_size),
      seed_(seed),
      shuffle_(shuffle),
      augment_(augment),
      drop_last_(drop_last),
      prefetch_(prefetch) {
  if (data.files)
    ELR_CHECK(data.size() > 0 && data.image_bytes() > 0 &&
                  static_cast<int64_t>(data.files->paths.size()) == data.size(),
              "DataLoader: data set '{}' has {} labels and {} image files for {}x{}x{} images", data.name, data.size(),
              data.files->paths.size(), data.channels, data.height, data.width);
  else
    ELR_CHECK(data.size() > 0 && data.image_bytes() > 0 &&
                  static_cast<int64_t>(data.images.size()) == data.size() * data.image_bytes(),
              "DataLoader: data set '{}' has {} labels and {} pixel bytes for {}x{}x{} images", data.name,
              data.size(), data.images.size(), data.channels, data.height, data.width);
  if (batch_size <= 0) throw UserError(fmt::format("batch size must be positive, not {}", batch_size));
  batches_per_epoch_ = drop_last ? data.size() / batch_size : (data.size() + batch_size - 1) / batch_size;
  if (batches_per_epoch_ == 0)
    throw UserError(fmt::format("data set '{}' has {} samples, fewer than one batch of {} (drop_last is on)",
                                data.name, data.size(), batch_size));
  if (static_cast<int>(norm.mean.size()) != data.channels || static_cast<int>(norm.std.size()) != data.channels)
    throw UserError(fmt::format("data set '{}' has {} channels, but the normalization has {} means and {} stds",
                                data.name, data.channels, norm.mean.size(), norm.std.size()));
  lut_.resize(static_cast<size_t>(data.channels) * 256);
  for (int c = 0; c < data.channels; ++c) {
    if (!(norm.std[c] > 0.0f))
      throw UserError(fmt::format("normalization std of channel {} must be positive, not {}", c, norm.std[c]));
    for (int v = 0; v < 256; ++v) lut_[c * 256 + v] = (static_cast<float>(v) / 255.0f - norm.mean[c]) / norm.std[c];
  }
  if (data.files) decoders_ = std::make_unique<WorkerPool>(data.files->threads);
  if (prefetch_) start_worker();
}

DataLoader::~DataLoader() { stop_worker(); }

std::vector<int64_t> DataLoader::batch_samples(int64_t epoch, int64_t index) const {
  int64_t start = index * batch_size_;
  int64_t count = std::min(batch_size_, data_.size() - start);
  std::lock_guard<std::mutex> lock(order_mutex_);
  if (order_epoch_ != epoch) {
    order_ = epoch_order(data_.size(), seed_, epoch, shuffle_);
    order_epoch_ = epoch;
  }
  return std::vector<int64_t>(order_.begin() + start, order_.begin() + start + count);
}

Batch DataLoader::make_batch(int64_t epoch, int64_t index) const {
  ELR_CHECK(epoch >= 0 && index >= 0 && index < batches_per_epoch_,
            "DataLoader: batch {} of epoch {} does not exist ({} batches per epoch)", index, epoch,
            batches_per_epoch_);
  std::vector<int64_t> samples = batch_samples(epoch, index);
  const int64_t count = static_cast<int64_t>(samples.size());
  const int64_t per_image = data_.image_bytes(), plane = static_cast<int64_t>(data_.height) * data_.width;

  Batch batch;
  batch.epoch = epoch;
  batch.index_in_epoch = index;
  batch.images = Tensor::empty({count, data_.channels, data_.height, data_.width});
  batch.labels = Tensor::empty({count}, DType::I32);
  float* images = batch.images.data();
  int32_t* labels = batch.labels.labels();
  // Image j of the batch; scratch holds its pixels when they are not stored in memory as they are.
  auto prepare = [&](int64_t j, std::vector<uint8_t>& scratch) {
    const int64_t sample = samples[j], position = index * batch_size_ + j;
    const int32_t label = data_.labels[sample];
    if (label < 0 || label >= data_.classes)
      throw UserError(fmt::format("data set '{}': sample {} has label {}, outside 0..{}", data_.name, sample, label,
                                  data_.classes - 1));
    labels[j] = label;
    const uint8_t* pixels = nullptr;
    if (data_.files) {
      image_folder_sample(data_, sample, augment_, seed_, epoch, position, scratch.data());
      pixels = scratch.data();
    } else if (augment_) {
      CropFlip cf = draw_crop_flip(seed_, epoch, position);
      crop_flip_image(data_.image(sample), data_.channels, data_.height, data_.width, kAugmentPadding, cf,
                      scratch.data());
      pixels = scratch.data();
    } else {
      pixels = data_.image(sample);
    }
    float* out = images + j * per_image;
    for (int c = 0; c < data_.channels; ++c) {
      const float* lut = lut_.data() + c * 256;
      for (int64_t k = 0; k < plane; ++k) out[c * plane + k] = lut[pixels[c * plane + k]];
    }
  };
  if (decoders_) {
    decoders_->run(count, [&](int64_t j) {
      std::vector<uint8_t> scratch(static_cast<size_t>(per_image));
      prepare(j, scratch);
    });
  } else {
    std::vector<uint8_t> scratch(augment_ ? static_cast<size_t>(per_image) : 0);
    for (int64_t j = 0; j < count; ++j) prepare(j, scratch);
  }
  return batch;
}

Batch DataLoader::next() {
  if (failed_) std::rethrow_exception(failed_);
  Batch batch;
  if (!prefetch_) {
    batch = make_batch(next_epoch_, next_index_);
  } else {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      not_empty_.wait(lock, [&] { return !queue_.empty(); });
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    not_full_.notify_one();
    if (item.error) {
      failed_ = item.error;  // the worker has stopped; seek() starts it again
      std::rethrow_exception(failed_);
    }
    batch = std::move(item.batch);
  }
  if (++next_index_ == batches_per_epoch_) {
    next_index_ = 0;
    ++next_epoch_;
  }
  return batch;
}

void DataLoader::seek(int64_t epoch, int64_t batch_index) {
  if (epoch < 0 || batch_index < 0 || batch_index >= batches_per_epoch_)
    throw UserError(fmt::format("cannot seek to batch {} of epoch {}: there are {} batches per epoch", batch_index,
                                epoch, batches_per_epoch_));
  stop_worker();
  failed_ = nullptr;
  next_epoch_ = epoch;
  next_index_ = batch_index;
  if (prefetch_) start_worker();
}

void DataLoader::start_worker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = false;
    queue_.clear();
  }
  worker_ = std::thread(&DataLoader::worker_loop, this, next_epoch_, next_index_);
}

void DataLoader::stop_worker() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  not_full_.notify_all();
  worker_.join();
  queue_.clear();
}

void DataLoader::worker_loop(int64_t epoch, int64_t index) {
  for (;;) {
    Item item;
    try {
      item.batch = make_batch(epoch, index);
    } catch (...) {
      item.error = std::current_exception();
    }
    const bool failed = item.error != nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      not_full_.wait(lock, [&] { return stop_ || queue_.size() < kQueueCapacity; });
      if (stop_) return;
      queue_.push_back(std::move(item));
    }
    not_empty_.notify_one();
    if (failed) return;
    if (++index == batches_per_epoch_) {
      index = 0;
      ++epoch;
    }
  }
}

}  // namespace elr
