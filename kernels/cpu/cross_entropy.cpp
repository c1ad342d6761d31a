// Softmax cross-entropy with the mean over the batch, on the CPU.
// Per-row losses are computed in parallel and summed in row order, so the loss does not depend on
// the number of threads.
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

// Below this many logits the thread start-up costs more than the work.
constexpr int64_t kParallelMinElements = 1 << 15;

void check_inputs(const char* op, const CrossEntropyShape& sh, const int32_t* labels) {
  ELR_CHECK(sh.n > 0 && sh.classes > 0, "{}: shape [n={}, classes={}] must be positive", op, sh.n, sh.classes);
  for (int i = 0; i < sh.n; ++i) {
    ELR_CHECK(labels[i] >= 0 && labels[i] < sh.classes, "{}: row {} has label {}, outside [0, {})", op, i,
              labels[i], sh.classes);
  }
}

}  // namespace

template <class T>
void cross_entropy_forward_cpu(const CrossEntropyShape& sh, const T* logits, const int32_t* labels, T* loss,
                               T* probs, int64_t* correct) {
  check_inputs("cross_entropy_forward", sh, labels);
  std::vector<double> row_loss(sh.n);
  std::vector<char> row_correct(sh.n);
  const int64_t total = int64_t(sh.n) * sh.classes;
#pragma omp parallel for schedule(static) if (total >= kParallelMinElements)
  for (int i = 0; i < sh.n; ++i) {
    const T* z = logits + int64_t(i) * sh.classes;
    T* prob = probs + int64_t(i) * sh.classes;
    int top = 0;  // first maximum
    for (int k = 1; k < sh.classes; ++k)
      if (z[k] > z[top]) top = k;
    // log-sum-exp with the maximum subtracted: exp never overflows.
    const double zmax = double(z[top]);
    double sum = 0;
    for (int k = 0; k < sh.classes; ++k) sum += std::exp(double(z[k]) - zmax);
    for (int k = 0; k < sh.classes; ++k) prob[k] = T(std::exp(double(z[k]) - zmax) / sum);
    row_loss[i] = zmax + std::log(sum) - double(z[labels[i]]);
    row_correct[i] = top == labels[i];
  }
  double loss_sum = 0;
  int64_t hits = 0;
  for (int i = 0; i < sh.n; ++i) {
    loss_sum += row_loss[i];
    hits += row_correct[i];
  }
  *loss = T(loss_sum / double(sh.n));
  if (correct) *correct = hits;
}

template <class T>
void cross_entropy_backward_cpu(const CrossEntropyShape& sh, const T* probs, const int32_t* labels, T dloss,
                                T* dlogits) {
  check_inputs("cross_entropy_backward", sh, labels);
  const double scale = double(dloss) / double(sh.n);
  const int64_t total = int64_t(sh.n) * sh.classes;
#pragma omp parallel for schedule(static) if (total >= kParallelMinElements)
  for (int i = 0; i < sh.n; ++i) {
    const int64_t row = int64_t(i) * sh.classes;
    for (int k = 0; k < sh.classes; ++k) {
      const double onehot = k == labels[i] ? 1.0 : 0.0;
      dlogits[row + k] = T(scale * (double(probs[row + k]) - onehot));
    }
  }
}

#define ELR_INSTANTIATE_CROSS_ENTROPY(T)                                                                     \
  template void cross_entropy_forward_cpu<T>(const CrossEntropyShape&, const T*, const int32_t*, T*, T*,     \
                                             int64_t*);                                                      \
  template void cross_entropy_backward_cpu<T>(const CrossEntropyShape&, const T*, const int32_t*, T, T*);
ELR_INSTANTIATE_CROSS_ENTROPY(float)
ELR_INSTANTIATE_CROSS_ENTROPY(double)
#undef ELR_INSTANTIATE_CROSS_ENTROPY

}  // namespace elr::kernels
