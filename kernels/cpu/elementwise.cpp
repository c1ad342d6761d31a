// ReLU and the residual add (optionally fused with a ReLU) on the CPU.
// Each element is independent, so a static OpenMP split gives the same bits for any thread count.
#include <cstdint>

#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

// Below this many elements the thread start-up costs more than the work.
constexpr int64_t kParallelMinElements = 1 << 15;

template <class T>
inline T relu(T v) {
  return v < T(0) ? T(0) : v;  // NaN passes through, as in PyTorch
}

}  // namespace

template <class T>
void relu_forward_cpu(int64_t count, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (count >= kParallelMinElements)
  for (int64_t i = 0; i < count; ++i) y[i] = relu(x[i]);
}

template <class T>
void relu_backward_cpu(int64_t count, const T* y, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (count >= kParallelMinElements)
  for (int64_t i = 0; i < count; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <class T>
void add_forward_cpu(int64_t count, bool relu_after, const T* a, const T* b, T* y) {
  if (relu_after) {
#pragma omp parallel for schedule(static) if (count >= kParallelMinElements)
    for (int64_t i = 0; i < count; ++i) y[i] = relu(a[i] + b[i]);
  } else {
#pragma omp parallel for schedule(static) if (count >= kParallelMinElements)
    for (int64_t i = 0; i < count; ++i) y[i] = a[i] + b[i];
  }
}

template <class T>
void add_backward_cpu(int64_t count, bool relu_after, const T* y, const T* dy, T* da, T* db) {
  if (relu_after) {
#pragma omp parallel for schedule(static) if (count >= kParallelMinElements)
    for (int64_t i = 0; i < count; ++i) {
      const T g = y[i] > T(0) ? dy[i] : T(0);
      da[i] = g;
      db[i] = g;
    }
  } else {
#pragma omp parallel for schedule(static) if (count >= kParallelMinElements)
    for (int64_t i = 0; i < count; ++i) {
      da[i] = dy[i];
      db[i] = dy[i];
    }
  }
}

#define ELR_INSTANTIATE_ELEMENTWISE(T)                                                    \
  template void relu_forward_cpu<T>(int64_t, const T*, T*);                               \
  template void relu_backward_cpu<T>(int64_t, const T*, const T*, T*);                    \
  template void add_forward_cpu<T>(int64_t, bool, const T*, const T*, T*);                \
  template void add_backward_cpu<T>(int64_t, bool, const T*, const T*, T*, T*);
ELR_INSTANTIATE_ELEMENTWISE(float)
ELR_INSTANTIATE_ELEMENTWISE(double)
#undef ELR_INSTANTIATE_ELEMENTWISE

}  // namespace elr::kernels
