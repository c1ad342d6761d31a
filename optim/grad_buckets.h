// The buckets of the device gradient all-reduce (docs/scale.md), as in PyTorch's DDP: the
// parameters in the order the backward finishes their gradients (the reverse of the model's
// order), packed into buckets of about `cap_bytes`; a bucket is all-reduced as soon as every
// gradient in it is final, while the backward goes on with the layers below. Buckets go out in
// their order only (every rank must issue its NCCL calls in the same order).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace elr {

// PyTorch DDP's default bucket size.
constexpr size_t kDefaultBucketBytes = 25u << 20;

class GradBuckets {
 public:
  // `numels`: each parameter's float count, in the model's (registration) order. A bucket closes
  // once it holds cap_bytes or more; a parameter larger than the cap is a bucket of its own.
  GradBuckets(const std::vector<int64_t>& numels, size_t cap_bytes = kDefaultBucketBytes);

  // Parameter indices of each bucket, in the order the buckets go out.
  const std::vector<std::vector<int>>& buckets() const { return buckets_; }
  // A new backward: no gradient is final, no bucket has gone out.
  void start();
  // Parameter `param`'s gradient is final: the buckets that go out now, in order (each complete, and
  // every bucket before it gone out). Error when a parameter is final twice in one backward (a
  // weight used twice: its gradient was not final the first time).
  std::vector<int> ready(int param);
  // The end of the backward: the buckets still to go out, in order (those holding a parameter the
  // backward never reached: its gradient is zero).
  std::vector<int> rest();

 private:
  std::vector<std::vector<int>> buckets_;
  std::vector<int> bucket_of_;      // per parameter
  std::vector<char> final_;         // per parameter, this backward
  std::vector<size_t> missing_;     // per bucket: parameters not final yet
  size_t next_ = 0;                 // the first bucket not gone out
};

}  // namespace elr
