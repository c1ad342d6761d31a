// Direct stride-1 conv2d for float on AVX-512: no column matrix. Each image is copied once into a
// zero-padded buffer [C, Hp, Wp]; an output position (p, q) is then computed at padded position
// p * Wp + q, where every kernel tap (r, s) reads the input at a fixed offset r * Wp + s. So 32
// consecutive padded positions of 8 output channels are 16 AVX-512 accumulators, and each
// (c, r, s) costs two unaligned loads and 16 FMAs with broadcast weights. Positions past Q in a
// padded row are computed and dropped.
//
// The backward-data pass of a stride-1 conv is the same computation: dy padded by R-1-pad, the
// weights flipped in r and s with C and K swapped. The weight gradient of a 3x3 stride-1 conv
// reads the same padded layout (below).
//
// Determinism: each output element sums c, then r, then s in order, in one thread; images are
// spread over threads. The weight gradient sums images in groups fixed by the shape, added in
// group order. Results do not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "kernels/cpu/conv2d_direct.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace elr::kernels::detail {

#if defined(__AVX512F__)

namespace {

constexpr int kChannelBlock = 8;    // output channels per register block
constexpr int kPositionBlock = 32;  // padded positions per register block (two vectors)

// One stride-1 correlation: in [n, cin, h, w] padded by pad_h rows and pad_w columns on each side
// -> out [n, cout, h + 2 pad_h - r + 1, w + 2 pad_w - s + 1]; packed weights [ceil(cout / 8)][cin][r][s][8] (zero for missing channels).
struct DirectProblem {
  int n, cin, h, w, cout, r, s, pad_h, pad_w;
  int hp() const { return h + 2 * pad_h; }
  int wp() const { return w + 2 * pad_w; }
  int p() const { return hp() - r + 1; }
  int q() const { return wp() - s + 1; }
};

template <class T>
T* scratch(std::vector<T>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// Copies `channels` planes of h x w into the zeroed buffer `out` of planes (h + 2 pad_h) x
// (w + 2 pad_w), each at row pad_h, column pad_w.
void copy_padded(const float* in, int channels, int h, int w, int pad_h, int pad_w, float* out) {
  const int64_t wp = w + 2 * pad_w, plane = int64_t(h + 2 * pad_h) * wp;
  for (int c = 0; c < channels; ++c)
    for (int i = 0; i < h; ++i)
      std::memcpy(out + c * plane + (i + pad_h) * wp + pad_w, in + (int64_t(c) * h + i) * w, sizeof(float) * w);
}

void correlate_image(const DirectProblem& d, const float* in, const float* packed, float* out) {
  const int hp = d.hp(), wp = d.wp(), P = d.p(), Q = d.q();
  const int64_t plane = int64_t(hp) * wp;
  const int64_t positions = int64_t(P) * wp;
  const int64_t rounded = (positions + kPositionBlock - 1) / kPositionBlock * kPositionBlock;
  // The last block reads up to rounded - positions + s - 1 values past the last plane.
  thread_local std::vector<float> padded_buffer, result_buffer;
  const size_t padded_size = size_t(d.cin * plane + (rounded - positions) + d.s + kPositionBlock);
  float* padded = scratch(padded_buffer, padded_size);
  std::fill(padded, padded + padded_size, 0.0f);
  copy_padded(in, d.cin, d.h, d.w, d.pad_h, d.pad_w, padded);
  const int blocks = (d.cout + kChannelBlock - 1) / kChannelBlock;
  float* result = scratch(result_buffer, size_t(kChannelBlock * rounded));
  const int taps = d.r * d.s;
  for (int b = 0; b < blocks; ++b) {
    const float* wb = packed + int64_t(b) * d.cin * taps * kChannelBlock;
    for (int64_t pos = 0; pos < rounded; pos += kPositionBlock) {
      __m512 acc[kChannelBlock][2];
      for (int k = 0; k < kChannelBlock; ++k) acc[k][0] = acc[k][1] = _mm512_setzero_ps();
      for (int c = 0; c < d.cin; ++c) {
        const float* xc = padded + c * plane + pos;
        const float* wc = wb + int64_t(c) * taps * kChannelBlock;
        for (int r = 0; r < d.r; ++r) {
          for (int s = 0; s < d.s; ++s) {
            const float* xp = xc + r * wp + s;
            const __m512 v0 = _mm512_loadu_ps(xp), v1 = _mm512_loadu_ps(xp + 16);
            const float* wt = wc + (r * d.s + s) * kChannelBlock;
            for (int k = 0; k < kChannelBlock; ++k) {
              const __m512 weight = _mm512_set1_ps(wt[k]);
              acc[k][0] = _mm512_fmadd_ps(weight, v0, acc[k][0]);
              acc[k][1] = _mm512_fmadd_ps(weight, v1, acc[k][1]);
            }
          }
        }
      }
      for (int k = 0; k < kChannelBlock; ++k) {
        _mm512_storeu_ps(result + k * rounded + pos, acc[k][0]);
        _mm512_storeu_ps(result + k * rounded + pos + 16, acc[k][1]);
      }
    }
    // Drop the positions past Q in each padded row and the channels past cout.
    for (int k = 0; k < kChannelBlock && b * kChannelBlock + k < d.cout; ++k) {
      float* out_k = out + int64_t(b * kChannelBlock + k) * P * Q;
      for (int p = 0; p < P; ++p) std::memcpy(out_k + int64_t(p) * Q, result + k * rounded + int64_t(p) * wp, sizeof(float) * Q);
    }
  }
}

void correlate(const DirectProblem& d, const float* in, const std::vector<float>& packed, float* out) {
  const int64_t in_image = int64_t(d.cin) * d.h * d.w, out_image = int64_t(d.cout) * d.p() * d.q();
#pragma omp parallel for schedule(static)
  for (int i = 0; i < d.n; ++i) correlate_image(d, in + i * in_image, packed.data(), out + i * out_image);
}

// packed[b][ci][r][s][k8] = weight(co = b * 8 + k8, ci, r, s), zero past cout.
template <class Weight>
std::vector<float> pack(int cout, int cin, int r, int s, Weight weight) {
  const int blocks = (cout + kChannelBlock - 1) / kChannelBlock;
  std::vector<float> packed(size_t(blocks) * cin * r * s * kChannelBlock, 0.0f);
  for (int co = 0; co < cout; ++co)
    for (int ci = 0; ci < cin; ++ci)
      for (int i = 0; i < r; ++i)
        for (int j = 0; j < s; ++j)
          packed[((((size_t(co / kChannelBlock) * cin + ci) * r + i) * s + j) * kChannelBlock) + co % kChannelBlock] =
              weight(co, ci, i, j);
  return packed;
}

// ---- weight gradient (3x3) --------------------------------------------------------------------
// dw[k, c, r, s] = sum over images and output positions (p, q) of dy[k, p, q] * x_padded[c, p + r,
// q + s]. Vectorized over k: dy is transposed to [position][k] (k padded to a multiple of 16), and
// a register block is 18 vectors of 16 output channels: 9 taps x (2 vectors of k, or 2 input
// channels when k fits one vector). Per position: 1-2 loads of dy and 18 FMAs with the input value
// broadcast from memory. A few images are padded at a time (their copies stay in L2); the block's
// sums run over all of them before they are added to the group's partial gradient.
constexpr int kTaps = 9;

struct WeightGradLayout {
  int64_t plane, x_image, k_padded, dy_image;
  explicit WeightGradLayout(const Conv2dShape& sh) {
    plane = int64_t(sh.h + 2 * sh.pad) * (sh.w + 2 * sh.pad);
    x_image = int64_t(sh.c) * plane;
    k_padded = (sh.k + 15) / 16 * 16;
    dy_image = int64_t(sh.p()) * sh.q() * k_padded;
  }
};

// acc[cb][t][v] += dy[position][k0 + 16 v ...] * x[c0 + cb][position + offset t], over the images.
template <int KV, int CB>
void weight_grad_block(const Conv2dShape& sh, const WeightGradLayout& L, const float* xs, const float* dys, int count,
                       int c0, int k0, const int64_t* offsets, float* block_out) {
  __m512 acc[CB][kTaps][KV];
  for (int cb = 0; cb < CB; ++cb)
    for (int t = 0; t < kTaps; ++t)
      for (int v = 0; v < KV; ++v) acc[cb][t][v] = _mm512_setzero_ps();
  const int wp = sh.w + 2 * sh.pad, P = sh.p(), Q = sh.q();
  for (int b = 0; b < count; ++b) {
    const float* xc = xs + b * L.x_image + c0 * L.plane;
    const float* g_row = dys + b * L.dy_image + k0;
    for (int p = 0; p < P; ++p) {
      for (int q = 0; q < Q; ++q, g_row += L.k_padded) {
        __m512 g[KV];
        for (int v = 0; v < KV; ++v) g[v] = _mm512_loadu_ps(g_row + 16 * v);
        const float* x_at = xc + int64_t(p) * wp + q;
        for (int cb = 0; cb < CB; ++cb)
          for (int t = 0; t < kTaps; ++t) {
            const __m512 value = _mm512_set1_ps(x_at[cb * L.plane + offsets[t]]);
            for (int v = 0; v < KV; ++v) acc[cb][t][v] = _mm512_fmadd_ps(value, g[v], acc[cb][t][v]);
          }
      }
    }
  }
  for (int cb = 0; cb < CB; ++cb)
    for (int t = 0; t < kTaps; ++t)
      for (int v = 0; v < KV; ++v) _mm512_storeu_ps(block_out + ((cb * kTaps + t) * KV + v) * 16, acc[cb][t][v]);
}

// The same for at most 16 output channels (one vector) and two input channels, two positions at a
// time: positions q and q+1 share the input values of neighbouring taps (x[q+1] is tap s+1 of q),
// so 24 broadcasts and 2 loads of dy feed 36 FMAs instead of 18 broadcasts for 18.
void weight_grad_block_k16(const Conv2dShape& sh, const WeightGradLayout& L, const float* xs, const float* dys,
                           int count, int c0, float* block_out) {
  constexpr int CB = 2;
  __m512 acc[CB][3][3];
  for (int cb = 0; cb < CB; ++cb)
    for (int r = 0; r < 3; ++r)
      for (int t = 0; t < 3; ++t) acc[cb][r][t] = _mm512_setzero_ps();
  const int wp = sh.w + 2 * sh.pad, P = sh.p(), Q = sh.q();
  for (int b = 0; b < count; ++b) {
    const float* xc = xs + b * L.x_image + c0 * L.plane;
    const float* g_row = dys + b * L.dy_image;
    for (int p = 0; p < P; ++p) {
      int q = 0;
      for (; q + 2 <= Q; q += 2, g_row += 2 * L.k_padded) {
        const __m512 g0 = _mm512_loadu_ps(g_row), g1 = _mm512_loadu_ps(g_row + L.k_padded);
        for (int cb = 0; cb < CB; ++cb)
          for (int r = 0; r < 3; ++r) {
            const float* x_at = xc + cb * L.plane + int64_t(p + r) * wp + q;  // x_at[3] is within the row
            const __m512 b0 = _mm512_set1_ps(x_at[0]), b1 = _mm512_set1_ps(x_at[1]);
            const __m512 b2 = _mm512_set1_ps(x_at[2]), b3 = _mm512_set1_ps(x_at[3]);
            acc[cb][r][0] = _mm512_fmadd_ps(b1, g1, _mm512_fmadd_ps(b0, g0, acc[cb][r][0]));
            acc[cb][r][1] = _mm512_fmadd_ps(b2, g1, _mm512_fmadd_ps(b1, g0, acc[cb][r][1]));
            acc[cb][r][2] = _mm512_fmadd_ps(b3, g1, _mm512_fmadd_ps(b2, g0, acc[cb][r][2]));
          }
      }
      if (q < Q) {  // odd Q: the last position alone
        const __m512 g0 = _mm512_loadu_ps(g_row);
        for (int cb = 0; cb < CB; ++cb)
          for (int r = 0; r < 3; ++r) {
            const float* x_at = xc + cb * L.plane + int64_t(p + r) * wp + q;
            for (int t = 0; t < 3; ++t) acc[cb][r][t] = _mm512_fmadd_ps(_mm512_set1_ps(x_at[t]), g0, acc[cb][r][t]);
          }
        g_row += L.k_padded;
      }
    }
  }
  for (int cb = 0; cb < CB; ++cb)
    for (int r = 0; r < 3; ++r)
      for (int t = 0; t < 3; ++t) _mm512_storeu_ps(block_out + (cb * kTaps + r * 3 + t) * 16, acc[cb][r][t]);
}

// Adds the weight gradient of images [first, first + count) into dw_part [k][c][3][3].
void weight_grad_images(const Conv2dShape& sh, const float* x, const float* dy, int first, int count,
                        float* dw_part) {
  const WeightGradLayout L(sh);
  const int wp = sh.w + 2 * sh.pad, PQ = sh.p() * sh.q();
  thread_local std::vector<float> x_buffer, dy_buffer;
  // Every read stays inside its padded plane: valid output positions only, 3x3 taps.
  float* xs = scratch(x_buffer, size_t(count * L.x_image));
  float* dys = scratch(dy_buffer, size_t(count * L.dy_image));
  std::fill(xs, xs + count * L.x_image, 0.0f);
  for (int b = 0; b < count; ++b) {
    copy_padded(x + int64_t(first + b) * sh.c * sh.h * sh.w, sh.c, sh.h, sh.w, sh.pad, sh.pad, xs + b * L.x_image);
    const float* dyi = dy + int64_t(first + b) * sh.k * PQ;
    float* dyt = dys + b * L.dy_image;
    for (int pos = 0; pos < PQ; ++pos) {
      for (int k = 0; k < sh.k; ++k) dyt[int64_t(pos) * L.k_padded + k] = dyi[int64_t(k) * PQ + pos];
      for (int k = sh.k; k < L.k_padded; ++k) dyt[int64_t(pos) * L.k_padded + k] = 0.0f;
    }
  }
  int64_t offsets[kTaps];
  for (int r = 0; r < 3; ++r)
    for (int s = 0; s < 3; ++s) offsets[r * 3 + s] = int64_t(r) * wp + s;
  float block[2 * kTaps * 16];
  // Adds a finished block (input channels c0.., output channels k0..) into dw_part.
  auto add_block = [&](int c0, int cb_count, int k0, int kv_count) {
    for (int cb = 0; cb < cb_count; ++cb)
      for (int t = 0; t < kTaps; ++t)
        for (int v = 0; v < kv_count; ++v)
          for (int j = 0; j < 16; ++j) {
            const int k = k0 + 16 * v + j;
            if (k < sh.k) dw_part[(int64_t(k) * sh.c + c0 + cb) * kTaps + t] += block[((cb * kTaps + t) * kv_count + v) * 16 + j];
          }
  };
  if (L.k_padded == 16) {  // one vector of k: two input channels per block
    int c = 0;
    for (; c + 2 <= sh.c; c += 2) {
      weight_grad_block_k16(sh, L, xs, dys, count, c, block);
      add_block(c, 2, 0, 1);
    }
    if (c < sh.c) {
      weight_grad_block<1, 1>(sh, L, xs, dys, count, c, 0, offsets, block);
      add_block(c, 1, 0, 1);
    }
    return;
  }
  for (int k0 = 0; k0 < L.k_padded; k0 += 32) {
    const bool pair = k0 + 32 <= L.k_padded;
    for (int c = 0; c < sh.c; ++c) {
      if (pair)
        weight_grad_block<2, 1>(sh, L, xs, dys, count, c, k0, offsets, block);
      else
        weight_grad_block<1, 1>(sh, L, xs, dys, count, c, k0, offsets, block);
      add_block(c, 1, k0, pair ? 2 : 1);
    }
  }
}

}  // namespace

bool conv2d_direct_weight_grad_supported(const Conv2dShape& sh) {
  return sh.stride == 1 && sh.r == 3 && sh.s == 3 && sh.pad < 3;
}

void conv2d_backward_weight_direct(const Conv2dShape& sh, const float* x, const float* dy, float* dw) {
  // Images in groups fixed by the shape (one partial sum each, added in group order), a few at a
  // time inside a group so that their padded copies stay in L2.
  const int groups = std::min(sh.n, 8);
  const WeightGradLayout L(sh);
  const int64_t image_bytes = (L.x_image + L.dy_image) * int64_t(sizeof(float));
  const int per_pass = int(std::clamp<int64_t>((256 << 10) / std::max<int64_t>(image_bytes, 1), 1, 16));
  const int64_t weight_size = int64_t(sh.k) * sh.c * kTaps;
  std::vector<float> partials(size_t(groups * weight_size), 0.0f);
#pragma omp parallel for schedule(static)
  for (int g = 0; g < groups; ++g) {
    const int begin = int(int64_t(g) * sh.n / groups), end = int(int64_t(g + 1) * sh.n / groups);
    for (int first = begin; first < end; first += per_pass)
      weight_grad_images(sh, x, dy, first, std::min(per_pass, end - first), partials.data() + g * weight_size);
  }
  for (int64_t i = 0; i < weight_size; ++i) {
    float sum = partials[size_t(i)];
    for (int g = 1; g < groups; ++g) sum += partials[size_t(g * weight_size + i)];
    dw[i] = sum;
  }
}

bool conv2d_direct_supported(const Conv2dShape& sh) {
  return sh.stride == 1 && sh.pad < sh.r && sh.pad < sh.s && !(sh.r == 1 && sh.s == 1 && sh.pad == 0);
}

void conv2d_forward_direct(const Conv2dShape& sh, const float* x, const float* w, float* y) {
  const DirectProblem d{sh.n, sh.c, sh.h, sh.w, sh.k, sh.r, sh.s, sh.pad, sh.pad};
  const auto packed = pack(sh.k, sh.c, sh.r, sh.s, [&](int k, int c, int i, int j) {
    return w[((int64_t(k) * sh.c + c) * sh.r + i) * sh.s + j];
  });
  correlate(d, x, packed, y);
}

void conv2d_backward_data_direct(const Conv2dShape& sh, const float* dy, const float* w, float* dx) {
  // dx[c, h, w] = sum_{k, r', s'} w[k, c, R-1-r', S-1-s'] * dy_padded[k, h + r', w + s'], with dy
  // padded by R-1-pad rows and S-1-pad columns.
  const DirectProblem d{sh.n, sh.k, sh.p(), sh.q(), sh.c, sh.r, sh.s, sh.r - 1 - sh.pad, sh.s - 1 - sh.pad};
  const auto packed = pack(sh.c, sh.k, sh.r, sh.s, [&](int c, int k, int i, int j) {
    return w[((int64_t(k) * sh.c + c) * sh.r + (sh.r - 1 - i)) * sh.s + (sh.s - 1 - j)];
  });
  correlate(d, dy, packed, dx);
}

#else  // no AVX-512: the im2col path serves every shape

bool conv2d_direct_weight_grad_supported(const Conv2dShape&) { return false; }
void conv2d_backward_weight_direct(const Conv2dShape&, const float*, const float*, float*) {
  ELR_FAIL("conv2d_backward_weight_direct: built without AVX-512");
}
bool conv2d_direct_supported(const Conv2dShape&) { return false; }
void conv2d_forward_direct(const Conv2dShape&, const float*, const float*, float*) {
  ELR_FAIL("conv2d_forward_direct: built without AVX-512");
}
void conv2d_backward_data_direct(const Conv2dShape&, const float*, const float*, float*) {
  ELR_FAIL("conv2d_backward_data_direct: built without AVX-512");
}

#endif

}  // namespace elr::kernels::detail
