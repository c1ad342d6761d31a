// The im2col lowering of conv2d, shared by the CPU conv kernels:
// - shape validation (one message format for every conv entry point);
// - im2col / col2im between one NCHW image and its column matrix [c*r*s, p*q];
// - the chunked entry points with an explicit chunk size, so benchmarks can tune the policy.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "engine/error.h"
#include "kernels/kernels.h"

namespace elr::kernels {

// Throws unless every size is positive and the kernel fits the padded input.
inline void check_conv2d_shape(const Conv2dShape& sh, const char* op) {
  ELR_CHECK(sh.n >= 1 && sh.c >= 1 && sh.h >= 1 && sh.w >= 1 && sh.k >= 1 && sh.r >= 1 && sh.s >= 1,
            "{}: sizes must be positive: input [{}, {}, {}, {}], weight [{}, {}, {}, {}]", op, sh.n, sh.c, sh.h,
            sh.w, sh.k, sh.c, sh.r, sh.s);
  ELR_CHECK(sh.stride >= 1 && sh.pad >= 0, "{}: stride {} must be >= 1 and pad {} >= 0", op, sh.stride, sh.pad);
  // Checked before p()/q(): integer division truncates a negative numerator towards zero.
  ELR_CHECK(sh.h + 2 * sh.pad >= sh.r && sh.w + 2 * sh.pad >= sh.s,
            "{}: kernel {}x{} larger than the padded input {}x{} (pad {})", op, sh.r, sh.s, sh.h + 2 * sh.pad,
            sh.w + 2 * sh.pad, sh.pad);
  ELR_CHECK(sh.p() >= 1 && sh.q() >= 1, "{}: output size {}x{} is not positive", op, sh.p(), sh.q());
}

namespace detail {

// The output columns q in [begin, end) whose input column q*stride - pad + s lies inside [0, w).
struct ColumnRange {
  int begin, end;
};
inline ColumnRange valid_columns(const Conv2dShape& sh, int s) {
  const int q_count = sh.q();
  int begin = 0;
  while (begin < q_count && begin * sh.stride - sh.pad + s < 0) ++begin;
  int end = q_count;
  while (end > begin && (end - 1) * sh.stride - sh.pad + s >= sh.w) --end;
  return {begin, end};
}

// col row (c, r, s) = the input pixels that kernel tap (r, s) of channel c sees, one per output
// position; zeros where the tap falls in the padding. Row i starts at col + i * ld.
template <class T>
void im2col(const Conv2dShape& sh, const T* x_image, T* col, int64_t ld) {
  const int P = sh.p(), Q = sh.q();
  for (int c = 0; c < sh.c; ++c) {
    const T* x_channel = x_image + static_cast<int64_t>(c) * sh.h * sh.w;
    for (int r = 0; r < sh.r; ++r) {
      for (int s = 0; s < sh.s; ++s) {
        T* dst = col + (static_cast<int64_t>(c * sh.r + r) * sh.s + s) * ld;
        const ColumnRange cols = valid_columns(sh, s);
        for (int p = 0; p < P; ++p, dst += Q) {
          const int ih = p * sh.stride - sh.pad + r;
          if (ih < 0 || ih >= sh.h) {
            std::fill(dst, dst + Q, T(0));
            continue;
          }
          const T* src = x_channel + static_cast<int64_t>(ih) * sh.w;  // input column q*stride - pad + s
          std::fill(dst, dst + cols.begin, T(0));
          if (sh.stride == 1) {
            std::memcpy(dst + cols.begin, src + (cols.begin - sh.pad + s), sizeof(T) * (cols.end - cols.begin));
          } else {
            for (int q = cols.begin; q < cols.end; ++q) dst[q] = src[q * sh.stride - sh.pad + s];
          }
          std::fill(dst + cols.end, dst + Q, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: adds every col entry back onto the pixel it was copied from.
// dx_image must be initialized (zeroed) by the caller.
template <class T>
void col2im_add(const Conv2dShape& sh, const T* col, int64_t ld, T* dx_image) {
  const int P = sh.p(), Q = sh.q();
  for (int c = 0; c < sh.c; ++c) {
    T* dx_channel = dx_image + static_cast<int64_t>(c) * sh.h * sh.w;
    for (int r = 0; r < sh.r; ++r) {
      for (int s = 0; s < sh.s; ++s) {
        const T* src = col + (static_cast<int64_t>(c * sh.r + r) * sh.s + s) * ld;
        const ColumnRange cols = valid_columns(sh, s);
        for (int p = 0; p < P; ++p, src += Q) {
          const int ih = p * sh.stride - sh.pad + r;
          if (ih < 0 || ih >= sh.h) continue;
          T* dst = dx_channel + static_cast<int64_t>(ih) * sh.w;  // input column q*stride - pad + s
          if (sh.stride == 1) {
            T* shifted = dst + (cols.begin - sh.pad + s);
            for (int q = cols.begin; q < cols.end; ++q) shifted[q - cols.begin] += src[q];
          } else {
            for (int q = cols.begin; q < cols.end; ++q) dst[q * sh.stride - sh.pad + s] += src[q];
          }
        }
      }
    }
  }
}

// How many images share one GEMM (concatenated along its N dimension): enough columns to keep
// the GEMM efficient, few enough that the column buffer stays in L2. Depends on the shape only,
// never on the thread count, so results are reproducible.
int conv2d_images_per_chunk(const Conv2dShape& sh);

// The fast entry points with an explicit chunk size (>= 1). The public _cpu functions call these
// with conv2d_images_per_chunk(sh).
template <class T> void conv2d_forward_chunked(const Conv2dShape& sh, const T* x, const T* w, T* y, int chunk);
template <class T>
void conv2d_backward_data_chunked(const Conv2dShape& sh, const T* dy, const T* w, T* dx, int chunk);
template <class T>
void conv2d_backward_weight_chunked(const Conv2dShape& sh, const T* x, const T* dy, T* dw, int chunk);

}  // namespace detail
}  // namespace elr::kernels
