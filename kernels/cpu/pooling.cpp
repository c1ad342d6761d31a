// 2x2 stride-2 max-pool, 3x3 stride-2 max-pool (padding 1) and global average pool on the CPU, one
// (n, c) plane per OpenMP iteration. Every output depends on one plane only, so results do not
// depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "engine/error.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

// Below this many input elements the thread start-up costs more than the work.
constexpr int64_t kParallelMinElements = 1 << 15;

void check_shape(const char* op, const PoolShape& sh) {
  ELR_CHECK(sh.n > 0 && sh.c > 0 && sh.h > 0 && sh.w > 0, "{}: shape [n={}, c={}, h={}, w={}] must be positive",
            op, sh.n, sh.c, sh.h, sh.w);
}

inline int64_t numel(const PoolShape& sh) { return int64_t(sh.n) * sh.c * sh.h * sh.w; }

// A window's running maximum: strict > keeps the first maximum on ties, and a NaN wins (and
// propagates), as in PyTorch.
template <class T>
bool takes_max(T candidate, T best) {
  return candidate > best || (std::isnan(double(candidate)) && !std::isnan(double(best)));
}

// Max-pool backward: each plane's dx is zeroed, then every output's gradient is added at its
// arg-max, in output order. Every arg-max lies in its output's plane, so planes never race.
template <class T>
void scatter_to_argmax(const PoolShape& sh, int64_t plane_out, const int32_t* argmax, const T* dy, T* dx) {
  const int64_t plane_in = int64_t(sh.h) * sh.w;
  const int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if (numel(sh) >= kParallelMinElements)
  for (int plane = 0; plane < planes; ++plane) {
    T* dx_plane = dx + plane * plane_in;
    for (int64_t k = 0; k < plane_in; ++k) dx_plane[k] = T(0);
    for (int64_t o = plane * plane_out; o < (plane + 1) * plane_out; ++o) dx[argmax[o]] += dy[o];
  }
}

}  // namespace

template <class T>
void maxpool2x2_forward_cpu(const PoolShape& sh, const T* x, T* y, int32_t* argmax) {
  check_shape("maxpool2x2_forward", sh);
  ELR_CHECK(numel(sh) <= std::numeric_limits<int32_t>::max(),
            "maxpool2x2_forward: input [n={}, c={}, h={}, w={}] is too large for int32 arg-max indices", sh.n, sh.c,
            sh.h, sh.w);
  const int oh = sh.h / 2, ow = sh.w / 2;
  const int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if (numel(sh) >= kParallelMinElements)
  for (int plane = 0; plane < planes; ++plane) {
    const int64_t in_base = int64_t(plane) * sh.h * sh.w;
    const int64_t out_base = int64_t(plane) * oh * ow;
    for (int i = 0; i < oh; ++i) {
      for (int j = 0; j < ow; ++j) {
        // Window in row-major order (takes_max: the first maximum on ties, a NaN wins).
        int64_t best = in_base + int64_t(2 * i) * sh.w + 2 * j;
        const int64_t window[3] = {best + 1, best + sh.w, best + sh.w + 1};
        for (int64_t k : window) {
          if (takes_max(x[k], x[best])) best = k;
        }
        const int64_t o = out_base + int64_t(i) * ow + j;
        y[o] = x[best];
        argmax[o] = int32_t(best);
      }
    }
  }
}

template <class T>
void maxpool2x2_backward_cpu(const PoolShape& sh, const int32_t* argmax, const T* dy, T* dx) {
  check_shape("maxpool2x2_backward", sh);
  scatter_to_argmax(sh, int64_t(sh.h / 2) * (sh.w / 2), argmax, dy, dx);
}

template <class T>
void maxpool3x3s2_forward_cpu(const PoolShape& sh, const T* x, T* y, int32_t* argmax) {
  check_shape("maxpool3x3s2_forward", sh);
  ELR_CHECK(numel(sh) <= std::numeric_limits<int32_t>::max(),
            "maxpool3x3s2_forward: input [n={}, c={}, h={}, w={}] is too large for int32 arg-max indices", sh.n,
            sh.c, sh.h, sh.w);
  const int oh = maxpool3x3s2_size(sh.h), ow = maxpool3x3s2_size(sh.w);
  const int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if (numel(sh) >= kParallelMinElements)
  for (int plane = 0; plane < planes; ++plane) {
    const int64_t in_base = int64_t(plane) * sh.h * sh.w;
    const int64_t out_base = int64_t(plane) * oh * ow;
    for (int i = 0; i < oh; ++i) {
      // Rows 2i-1 .. 2i+1 and columns 2j-1 .. 2j+1, clipped: the padding is -inf and never wins.
      const int r0 = std::max(2 * i - 1, 0), r1 = std::min(2 * i + 1, sh.h - 1);
      for (int j = 0; j < ow; ++j) {
        const int s0 = std::max(2 * j - 1, 0), s1 = std::min(2 * j + 1, sh.w - 1);
        // Row-major order, as in 2x2.
        int64_t best = in_base + int64_t(r0) * sh.w + s0;
        for (int r = r0; r <= r1; ++r) {
          for (int s = s0; s <= s1; ++s) {
            const int64_t k = in_base + int64_t(r) * sh.w + s;
            if (takes_max(x[k], x[best])) best = k;
          }
        }
        const int64_t o = out_base + int64_t(i) * ow + j;
        y[o] = x[best];
        argmax[o] = int32_t(best);
      }
    }
  }
}

template <class T>
void maxpool3x3s2_backward_cpu(const PoolShape& sh, const int32_t* argmax, const T* dy, T* dx) {
  check_shape("maxpool3x3s2_backward", sh);
  // Overlapping windows add up in output order; the CUDA kernel gathers in the same order: the same bits.
  scatter_to_argmax(sh, int64_t(maxpool3x3s2_size(sh.h)) * maxpool3x3s2_size(sh.w), argmax, dy, dx);
}

template <class T>
void global_avgpool_forward_cpu(const PoolShape& sh, const T* x, T* y) {
  check_shape("global_avgpool_forward", sh);
  const int64_t hw = int64_t(sh.h) * sh.w;
  const int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if (numel(sh) >= kParallelMinElements)
  for (int plane = 0; plane < planes; ++plane) {
    const T* xp = x + plane * hw;
    double sum = 0;
    for (int64_t k = 0; k < hw; ++k) sum += double(xp[k]);
    y[plane] = T(sum / double(hw));
  }
}

template <class T>
void global_avgpool_backward_cpu(const PoolShape& sh, const T* dy, T* dx) {
  check_shape("global_avgpool_backward", sh);
  const int64_t hw = int64_t(sh.h) * sh.w;
  const int planes = sh.n * sh.c;
#pragma omp parallel for schedule(static) if (numel(sh) >= kParallelMinElements)
  for (int plane = 0; plane < planes; ++plane) {
    const T g = T(double(dy[plane]) / double(hw));
    T* dxp = dx + plane * hw;
    for (int64_t k = 0; k < hw; ++k) dxp[k] = g;
  }
}

#define ELR_INSTANTIATE_POOLING(T)                                                                \
  template void maxpool2x2_forward_cpu<T>(const PoolShape&, const T*, T*, int32_t*);              \
  template void maxpool2x2_backward_cpu<T>(const PoolShape&, const int32_t*, const T*, T*);       \
  template void maxpool3x3s2_forward_cpu<T>(const PoolShape&, const T*, T*, int32_t*);            \
  template void maxpool3x3s2_backward_cpu<T>(const PoolShape&, const int32_t*, const T*, T*);     \
  template void global_avgpool_forward_cpu<T>(const PoolShape&, const T*, T*);                    \
  template void global_avgpool_backward_cpu<T>(const PoolShape&, const T*, T*);
ELR_INSTANTIATE_POOLING(float)
ELR_INSTANTIATE_POOLING(double)
#undef ELR_INSTANTIATE_POOLING

}  // namespace elr::kernels
