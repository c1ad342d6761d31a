#include "optim/data_parallel.h"

#include <cmath>
#include <cstring>

#include "engine/error.h"

namespace elr {

Batch rank_share(const Batch& global, int rank, int ranks) {
  const int64_t n = global.labels.numel();
  ELR_CHECK(ranks > 0 && n % ranks == 0 && rank >= 0 && rank < ranks,
            "rank_share: a batch of {} has no equal share for rank {} of {}", n, rank, ranks);
  const int64_t share = n / ranks;
  Shape shape = global.images.shape();
  shape[0] = share;
  Batch b;
  b.epoch = global.epoch;
  b.index_in_epoch = global.index_in_epoch;
  b.images = Tensor::empty(shape, DType::F32);
  b.labels = Tensor::empty({share}, DType::I32);
  std::memcpy(b.images.raw(), static_cast<const char*>(global.images.raw()) + b.images.bytes() * rank,
              b.images.bytes());
  std::memcpy(b.labels.raw(), static_cast<const char*>(global.labels.raw()) + b.labels.bytes() * rank,
              b.labels.bytes());
  return b;
}

void average_over_ranks(Communicator& ranks, const std::vector<Parameter*>& params, double& loss, int64_t& correct) {
  size_t total = 0;
  for (const Parameter* p : params) {
    ELR_CHECK(p->value.has_grad(), "gradient all-reduce: parameter '{}' has no gradient (was backward run?)", p->name);
    total += static_cast<size_t>(p->value.numel());
  }
  // One buffer, one collective: the gradients, then the loss and the count.
  std::vector<double> values(total + 2);
  size_t at = 0;
  for (const Parameter* p : params) {
    const float* g = p->value.grad().data();
    for (int64_t i = 0; i < p->value.numel(); ++i) values[at++] = g[i];
  }
  values[at] = loss;
  values[at + 1] = static_cast<double>(correct);
  ranks.sum(values.data(), values.size());
  const double n = ranks.size();
  at = 0;
  for (Parameter* p : params) {
    float* g = p->value.grad().data();
    for (int64_t i = 0; i < p->value.numel(); ++i) g[i] = static_cast<float>(values[at++] / n);
  }
  loss = values[at] / n;
  correct = std::llround(values[at + 1]);
}

}  // namespace elr
