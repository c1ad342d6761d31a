// The conv2d test oracle: direct loops, single-threaded, every output element computed as its own
// gather sum (accumulated in double) straight from the definition in kernels.h. It shares no code
// with the fast path except the shape check.
#include "kernels/cpu/im2col.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

// Flat indices into the NCHW / KCRS tensors.
inline int64_t x_index(const Conv2dShape& sh, int n, int c, int h, int w) {
  return ((static_cast<int64_t>(n) * sh.c + c) * sh.h + h) * sh.w + w;
}
inline int64_t w_index(const Conv2dShape& sh, int k, int c, int r, int s) {
  return ((static_cast<int64_t>(k) * sh.c + c) * sh.r + r) * sh.s + s;
}
inline int64_t y_index(const Conv2dShape& sh, int n, int k, int p, int q) {
  return ((static_cast<int64_t>(n) * sh.k + k) * sh.p() + p) * sh.q() + q;
}

}  // namespace

template <class T>
void conv2d_forward_naive(const Conv2dShape& sh, const T* x, const T* w, T* y) {
  check_conv2d_shape(sh, "conv2d_forward_naive");
  const int P = sh.p(), Q = sh.q();
  for (int n = 0; n < sh.n; ++n)
    for (int k = 0; k < sh.k; ++k)
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q) {
          double sum = 0;
          for (int c = 0; c < sh.c; ++c)
            for (int r = 0; r < sh.r; ++r)
              for (int s = 0; s < sh.s; ++s) {
                const int ih = p * sh.stride - sh.pad + r, iw = q * sh.stride - sh.pad + s;
                if (ih < 0 || ih >= sh.h || iw < 0 || iw >= sh.w) continue;
                sum += static_cast<double>(x[x_index(sh, n, c, ih, iw)]) * w[w_index(sh, k, c, r, s)];
              }
          y[y_index(sh, n, k, p, q)] = static_cast<T>(sum);
        }
}

// dx[n, c, h, w] = sum over the (k, r, s) and output positions (p, q) with
// p*stride - pad + r == h and q*stride - pad + s == w of dy[n, k, p, q] * w[k, c, r, s].
template <class T>
void conv2d_backward_data_naive(const Conv2dShape& sh, const T* dy, const T* w, T* dx) {
  check_conv2d_shape(sh, "conv2d_backward_data_naive");
  const int P = sh.p(), Q = sh.q();
  for (int n = 0; n < sh.n; ++n)
    for (int c = 0; c < sh.c; ++c)
      for (int ih = 0; ih < sh.h; ++ih)
        for (int iw = 0; iw < sh.w; ++iw) {
          double sum = 0;
          for (int k = 0; k < sh.k; ++k)
            for (int r = 0; r < sh.r; ++r)
              for (int s = 0; s < sh.s; ++s) {
                const int ph = ih + sh.pad - r, qw = iw + sh.pad - s;  // p*stride, q*stride
                if (ph < 0 || qw < 0 || ph % sh.stride != 0 || qw % sh.stride != 0) continue;
                const int p = ph / sh.stride, q = qw / sh.stride;
                if (p >= P || q >= Q) continue;
                sum += static_cast<double>(dy[y_index(sh, n, k, p, q)]) * w[w_index(sh, k, c, r, s)];
              }
          dx[x_index(sh, n, c, ih, iw)] = static_cast<T>(sum);
        }
}

template <class T>
void conv2d_backward_weight_naive(const Conv2dShape& sh, const T* x, const T* dy, T* dw) {
  check_conv2d_shape(sh, "conv2d_backward_weight_naive");
  const int P = sh.p(), Q = sh.q();
  for (int k = 0; k < sh.k; ++k)
    for (int c = 0; c < sh.c; ++c)
      for (int r = 0; r < sh.r; ++r)
        for (int s = 0; s < sh.s; ++s) {
          double sum = 0;
          for (int n = 0; n < sh.n; ++n)
            for (int p = 0; p < P; ++p)
              for (int q = 0; q < Q; ++q) {
                const int ih = p * sh.stride - sh.pad + r, iw = q * sh.stride - sh.pad + s;
                if (ih < 0 || ih >= sh.h || iw < 0 || iw >= sh.w) continue;
                sum += static_cast<double>(dy[y_index(sh, n, k, p, q)]) * x[x_index(sh, n, c, ih, iw)];
              }
          dw[w_index(sh, k, c, r, s)] = static_cast<T>(sum);
        }
}

#define ELR_INSTANTIATE_CONV2D_NAIVE(T)                                                          \
  template void conv2d_forward_naive<T>(const Conv2dShape&, const T*, const T*, T*);             \
  template void conv2d_backward_data_naive<T>(const Conv2dShape&, const T*, const T*, T*);       \
  template void conv2d_backward_weight_naive<T>(const Conv2dShape&, const T*, const T*, T*);
ELR_INSTANTIATE_CONV2D_NAIVE(float)
ELR_INSTANTIATE_CONV2D_NAIVE(double)
#undef ELR_INSTANTIATE_CONV2D_NAIVE

}  // namespace elr::kernels
