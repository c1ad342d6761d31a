// SGD update and per-tensor statistics on the CPU.
// Both cut the tensor into fixed chunks (independent of the thread count), sum each chunk in double
// and add the chunk sums in chunk order, so the results are the same bits for any number of threads.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

constexpr int64_t kChunk = 1 << 14;

inline int64_t chunk_count(int64_t count) { return (count + kChunk - 1) / kChunk; }
inline int64_t chunk_end(int64_t chunk, int64_t count) { return std::min(count, (chunk + 1) * kChunk); }

}  // namespace

TensorStats tensor_stats_cpu(int64_t count, const float* w, const float* g, const float* v) {
  ELR_CHECK(count >= 0, "tensor_stats: negative element count {}", count);
  const int64_t chunks = chunk_count(count);
  std::vector<TensorStats> partial(chunks);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    TensorStats s;
    for (int64_t i = c * kChunk, end = chunk_end(c, count); i < end; ++i) {
      const double wi = w[i], gi = g[i];
      s.w2 += wi * wi;
      s.g2 += gi * gi;
      s.gw += gi * wi;
      if (v) s.v2 += double(v[i]) * double(v[i]);
    }
    partial[c] = s;
  }
  TensorStats total;
  for (const TensorStats& s : partial) {
    total.w2 += s.w2;
    total.g2 += s.g2;
    total.gw += s.gw;
    total.v2 += s.v2;
  }
  return total;
}

double sgd_update_cpu(int64_t count, const SgdParams& p, float* w, const float* g, float* v) {
  ELR_CHECK(count >= 0, "sgd_update: negative element count {}", count);
  const bool use_momentum = p.momentum != 0.0f;
  ELR_CHECK(!use_momentum || v != nullptr, "sgd_update: momentum {} needs a momentum buffer, got none", p.momentum);
  ELR_CHECK(!p.nesterov || use_momentum, "sgd_update: nesterov needs a momentum > 0 (got momentum {})", p.momentum);
  const float lr = p.lr, momentum = p.momentum, wd = p.weight_decay;
  const float damping = 1.0f - momentum;  // dampened: the weight of d in the buffer
  const bool dampened = p.dampened;
  const bool first = p.first_step, nesterov = p.nesterov, use_wd = wd != 0.0f;
  const int64_t chunks = chunk_count(count);
  std::vector<double> partial(chunks);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    double sum = 0;
    for (int64_t i = c * kChunk, end = chunk_end(c, count); i < end; ++i) {
      // Skipping wd * w when wd == 0 keeps an inf weight from turning the gradient into NaN (as PyTorch).
      const float d = use_wd ? g[i] + wd * w[i] : g[i];
      float step = d;
      if (use_momentum) {
        const float fresh = dampened ? damping * d : d;
        const float buf = first ? fresh : momentum * v[i] + fresh;
        v[i] = buf;
        step = nesterov ? d + momentum * buf : buf;
      }
      const float update = lr * step;
      w[i] -= update;
      sum += double(update) * double(update);
    }
    partial[c] = sum;
  }
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace elr::kernels
