// The batch loader: a deterministic per-epoch order, optional crop-and-flip augmentation, per-
// channel normalization, and a prefetch thread that prepares the next batches while the current
// one trains. An image folder's images are decoded and transformed (image_folder.h) by a pool of
// threads for each batch. Every batch is a pure function of (seed, epoch, batch index), whatever
// the number of threads, so seek() resumes a run exactly and prefetching never changes the numbers.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/tensor.h"
#include "experiments/data/dataset.h"
#include "experiments/data/worker_pool.h"
#include "optim/batch.h"

namespace elr {

// The order of an epoch: identity without shuffle, else a Fisher-Yates permutation driven by
// Rng(seed, kStreamShuffle + epoch).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

// Random crop of a zero-padded image plus horizontal flip (the standard CIFAR augmentation).
// The crop window's top-left corner in the padded image is (dy, dx), each in [0, 2 * pad].
struct CropFlip {
  int dy = 0, dx = 0;
  bool flip = false;
};
constexpr int kAugmentPadding = 4;

// The draw for the sample at `position` within `epoch`: one Philox block of
// (seed, kStreamAugment + epoch, position), independent of threads and prefetching.
CropFlip draw_crop_flip(uint64_t seed, int64_t epoch, int64_t position, int pad = kAugmentPadding);

// dst(c, y, x) = src(c, y + dy - pad, x' + dx - pad) with x' = (flip ? width - 1 - x : x), and 0 where
// that falls outside the image (the crop of the zero-padded image, then the flip of the crop).
void crop_flip_image(const uint8_t* src, int channels, int height, int width, int pad, const CropFlip& cf,
                     uint8_t* dst);

class DataLoader {
 public:
  // `data` must outlive the loader. norm holds one mean and std per channel (pixels scaled to
  // [0, 1]); each pixel becomes (x / 255 - mean) / std. augment: CIFAR's crop and flip, or for an
  // image folder the training transform (else its evaluation transform). With prefetch off,
  // next() builds each batch on the calling thread (same results).
  DataLoader(const Dataset& data, int64_t batch_size, uint64_t seed, bool shuffle, bool augment, bool drop_last,
             Normalization norm, bool prefetch = true);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The next batch; after the last batch of an epoch comes batch 0 of the next epoch. An error
  // raised while preparing a batch (also on the prefetch thread) is thrown here.
  Batch next();
  // Positions the loader so that next() returns batch `batch_index` of `epoch`.
  void seek(int64_t epoch, int64_t batch_index);

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t batch_size() const { return batch_size_; }
  int64_t next_epoch() const { return next_epoch_; }  // where next() will read: for checkpoints
  int64_t next_index() const { return next_index_; }
  const Dataset& dataset() const { return data_; }

  // Batch `index` of `epoch`, built on the calling thread (an image folder's with the decoding
  // pool); does not move the loader.
  Batch make_batch(int64_t epoch, int64_t index) const;

 private:
  struct Item {
    Batch batch;
    std::exception_ptr error;
  };
  std::vector<int64_t> batch_samples(int64_t epoch, int64_t index) const;
  void start_worker();
  void stop_worker();
  void worker_loop(int64_t epoch, int64_t index);

  const Dataset& data_;
  int64_t batch_size_;
  uint64_t seed_;
  bool shuffle_, augment_, drop_last_, prefetch_;
  int64_t batches_per_epoch_;
  std::vector<float> lut_;  // [channel][pixel value] -> normalized float
  std::unique_ptr<WorkerPool> decoders_;  // image folders: the decoding threads

  // The order of the epoch last asked for, shared by the worker and make_batch's callers.
  mutable std::mutex order_mutex_;
  mutable int64_t order_epoch_ = -1;
  mutable std::vector<int64_t> order_;

  int64_t next_epoch_ = 0, next_index_ = 0;
  std::exception_ptr failed_;

  static constexpr size_t kQueueCapacity = 2;
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace elr
