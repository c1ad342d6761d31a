#include "optim/grad_buckets.h"

#include "engine/error.h"

namespace elr {

GradBuckets::GradBuckets(const std::vector<int64_t>& numels, size_t cap_bytes) : bucket_of_(numels.size()) {
  size_t bytes = 0;
  for (int i = static_cast<int>(numels.size()) - 1; i >= 0; --i) {
    ELR_CHECK(numels[static_cast<size_t>(i)] >= 0, "GradBuckets: parameter {} has {} values", i,
              numels[static_cast<size_t>(i)]);
    if (buckets_.empty() || bytes >= cap_bytes) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(i);
    bucket_of_[static_cast<size_t>(i)] = static_cast<int>(buckets_.size()) - 1;
    bytes += static_cast<size_t>(numels[static_cast<size_t>(i)]) * sizeof(float);
  }
  start();
}

void GradBuckets::start() {
  final_.assign(bucket_of_.size(), 0);
  missing_.resize(buckets_.size());
  for (size_t b = 0; b < buckets_.size(); ++b) missing_[b] = buckets_[b].size();
  next_ = 0;
}

std::vector<int> GradBuckets::ready(int param) {
  ELR_CHECK(param >= 0 && static_cast<size_t>(param) < final_.size(), "GradBuckets: no parameter {}", param);
  ELR_CHECK(!final_[static_cast<size_t>(param)],
            "GradBuckets: parameter {} reached twice in one backward (a shared weight): its bucket went out before "
            "its gradient was final",
            param);
  final_[static_cast<size_t>(param)] = 1;
  --missing_[static_cast<size_t>(bucket_of_[static_cast<size_t>(param)])];
  std::vector<int> out;
  while (next_ < buckets_.size() && missing_[next_] == 0) out.push_back(static_cast<int>(next_++));
  return out;
}

std::vector<int> GradBuckets::rest() {
  std::vector<int> out;
  while (next_ < buckets_.size()) out.push_back(static_cast<int>(next_++));
  return out;
}

}  // namespace elr
