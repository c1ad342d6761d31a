// conv2d as implicit GEMM (NCHW activations, KCRS weights), the three passes as problems for the
// main loop in gemm_tiles.h. Each operand gathers its elements from the tensors on the fly:
//   forward          y[k, (n,p,q)]  = sum_(c,r,s)  w[k, (c,r,s)]  * x(c,r,s ; n,p,q)
//   backward data    dx[c, (n,h,w)] = sum_(k,r,s)  w[k, c, r, s]  * dy(k,r,s ; n,h,w), per stride phase
//   backward weight  dw[k, (c,r,s)] = sum_(n,p,q)  dy[n, k, p, q] * x(n,p,q ; c,r,s)
// Out-of-image taps (padding) read as zero.
#pragma once
#include "kernels/cuda/gemm_tiles.h"

namespace elr::kernels::conv {

using gemm::Gather;

// Geometry shared by the operands, with the products the index math needs.
struct Geometry {
  int n, c, h, w, k, r, s, stride, pad, p, q;
  int rs, pq, hw;
  int64_t chw;
  gemm::FastDiv div_rs, div_s, div_pq, div_q, div_hw, div_w;
};
inline Geometry geometry(const Conv2dShape& sh) {
  Geometry g{};
  g.n = sh.n, g.c = sh.c, g.h = sh.h, g.w = sh.w, g.k = sh.k, g.r = sh.r, g.s = sh.s;
  g.stride = sh.stride, g.pad = sh.pad, g.p = sh.p(), g.q = sh.q();
  g.rs = g.r * g.s;
  g.pq = g.p * g.q;
  g.hw = g.h * g.w;
  g.chw = int64_t(g.c) * g.hw;
  g.div_rs = gemm::FastDiv(g.rs), g.div_s = gemm::FastDiv(g.s), g.div_pq = gemm::FastDiv(g.pq);
  g.div_q = gemm::FastDiv(g.q), g.div_hw = gemm::FastDiv(g.hw), g.div_w = gemm::FastDiv(g.w);
  return g;
}

// ---- forward ------------------------------------------------------------------------------------
// B(crs, npq) = x[n, c, p*stride - pad + r, q*stride - pad + s]; one output pixel per thread.
struct ForwardInput {
  static constexpr Gather kGather = Gather::MNRun;
  Geometry g;
  const float* x;
  int columns;  // n * p * q
  struct Ctx {
    const float* image;
    int ih0, iw0;
    bool valid;
  };
  __device__ __forceinline__ Ctx context(int npq) const {
    const bool valid = npq < columns;
    const int col = valid ? npq : 0;
    const int img = g.div_pq.div(col), pix = col - img * g.pq;
    const int op = g.div_q.div(pix), oq = pix - op * g.q;
    return {x + img * g.chw, op * g.stride - g.pad, oq * g.stride - g.pad, valid};
  }
  template <int L, int Step>
  __device__ __forceinline__ void load(const Ctx& c, int k, int k_limit, float (&v)[L]) const {
ELR_GEMM_UNROLL
    for (int i = 0; i < L; ++i) {
      const int crs = k + i * Step;
      float value = 0.0f;
      if (c.valid && crs < k_limit) {
        const int ch = g.div_rs.div(crs), tap = crs - ch * g.rs;
        const int dr = g.div_s.div(tap), ds = tap - dr * g.s;
        const int ih = c.ih0 + dr, iw = c.iw0 + ds;
        if (unsigned(ih) < unsigned(g.h) && unsigned(iw) < unsigned(g.w))
          value = __ldg(c.image + (int64_t(ch) * g.h + ih) * g.w + iw);
      }
      v[i] = value;
    }
  }
};

struct ForwardProblem {
  using OperandA = gemm::RowsOperand;  // w viewed as [k, c*r*s]
  using OperandB = ForwardInput;
  OperandA a;
  OperandB b;
  int m, n, kdim;
  float* y;
  int pq, k;
  gemm::FastDiv div_pq;
  __device__ __forceinline__ void store(int ko, int npq, float value) const {
    const int img = div_pq.div(npq), pix = npq - img * pq;
    y[(int64_t(img) * k + ko) * pq + pix] = value;
  }
};

inline ForwardProblem forward_problem(const Conv2dShape& sh, const float* x, const float* w, float* y) {
  const Geometry g = geometry(sh);
  const int crs = g.c * g.rs;
  ForwardProblem p{};
  p.a = {w, g.k, crs, crs % 4 == 0 && gemm::aligned16(w)};
  p.b = {g, x, g.n * g.pq};
  p.m = g.k, p.n = g.n * g.pq, p.kdim = crs;
  p.y = y, p.pq = g.pq, p.k = g.k, p.div_pq = g.div_pq;
  return p;
}

// ---- backward data ------------------------------------------------------------------------------
// With stride > 1 most (dx pixel, tap) pairs meet no output position. The dx pixels are split into
// stride x stride phases (h % stride, w % stride); within a phase, exactly the taps with
// r = r0 + stride * j reach it, from output row p = p0 + i - j for dx row h = h0 + stride * i. One
// GEMM per phase then does only useful work (stride 1: one phase, every tap).
struct DataPhase {
  int h0, w0;          // first dx row / column of the phase
  int rows, cols;      // dx rows / columns in the phase
  int r0, s0;          // first tap of the phase
  int taps_r, taps_s;  // taps reaching the phase
  int p0, q0;          // output row / column feeding dx row i through tap j: p0 + i - j
  gemm::FastDiv div_taps, div_taps_s, div_pixels, div_cols;  // by taps(), taps_s, rows * cols, cols
  int taps() const { return taps_r * taps_s; }
};

inline DataPhase data_phase(const Geometry& g, int h0, int w0) {
  DataPhase ph{};
  ph.h0 = h0, ph.w0 = w0;
  ph.rows = h0 < g.h ? (g.h - h0 + g.stride - 1) / g.stride : 0;
  ph.cols = w0 < g.w ? (g.w - w0 + g.stride - 1) / g.stride : 0;
  ph.r0 = (h0 + g.pad) % g.stride, ph.s0 = (w0 + g.pad) % g.stride;
  ph.taps_r = ph.r0 < g.r ? (g.r - ph.r0 + g.stride - 1) / g.stride : 0;
  ph.taps_s = ph.s0 < g.s ? (g.s - ph.s0 + g.stride - 1) / g.stride : 0;
  ph.p0 = (h0 + g.pad - ph.r0) / g.stride, ph.q0 = (w0 + g.pad - ph.s0) / g.stride;  // exact divisions
  ph.div_taps = gemm::FastDiv(ph.taps()), ph.div_taps_s = gemm::FastDiv(ph.taps_s);
  ph.div_pixels = gemm::FastDiv(ph.rows * ph.cols), ph.div_cols = gemm::FastDiv(ph.cols);
  return ph;
}

// A(c, (k, jr, js)) = w[k, c, r0 + stride * jr, s0 + stride * js]: the weight read transposed.
struct WeightTransposed {
  static constexpr Gather kGather = Gather::KRun;
  Geometry g;
  DataPhase ph;
  const float* w;
  struct Ctx {
    const float* channel;  // w + c * r * s
    bool valid;
  };
  __device__ __forceinline__ Ctx context(int c) const {
    const bool valid = c < g.c;
    return {w + int64_t(valid ? c : 0) * g.rs, valid};
  }
  template <int L, int Step>
  __device__ __forceinline__ void load(const Ctx& c, int k, int k_limit, float (&v)[L]) const {
    const int taps = ph.taps_r * ph.taps_s;
ELR_GEMM_UNROLL
    for (int i = 0; i < L; ++i) {
      const int kk = k + i * Step;
      float value = 0.0f;
      if (c.valid && kk < k_limit) {
        const int ko = ph.div_taps.div(kk), tap = kk - ko * taps;
        const int jr = ph.div_taps_s.div(tap), js = tap - jr * ph.taps_s;
        const int dr = ph.r0 + g.stride * jr, ds = ph.s0 + g.stride * js;
        value = __ldg(c.channel + int64_t(ko) * g.c * g.rs + dr * g.s + ds);
      }
      v[i] = value;
    }
  }
};

// B((k, jr, js), (n, i, ii)) = dy[n, k, p0 + i - jr, q0 + ii - js], zero outside the output.
struct GradOutputGather {
  static constexpr Gather kGather = Gather::MNRun;
  Geometry g;
  DataPhase ph;
  const float* dy;
  int columns;  // n * rows * cols
  struct Ctx {
    const float* image;  // dy + n * k * p * q
    int pi, qi;          // p0 + i, q0 + ii
    bool valid;
  };
  __device__ __forceinline__ Ctx context(int col) const {
    const bool valid = col < columns;
    const int c = valid ? col : 0;
    const int per_image = ph.rows * ph.cols;
    const int img = ph.div_pixels.div(c), pix = c - img * per_image;
    const int i = ph.div_cols.div(pix), ii = pix - i * ph.cols;
    return {dy + int64_t(img) * g.k * g.pq, ph.p0 + i, ph.q0 + ii, valid};
  }
  template <int L, int Step>
  __device__ __forceinline__ void load(const Ctx& c, int k, int k_limit, float (&v)[L]) const {
    const int taps = ph.taps_r * ph.taps_s;
ELR_GEMM_UNROLL
    for (int i = 0; i < L; ++i) {
      const int kk = k + i * Step;
      float value = 0.0f;
      if (c.valid && kk < k_limit) {
        const int ko = ph.div_taps.div(kk), tap = kk - ko * taps;
        const int jr = ph.div_taps_s.div(tap), js = tap - jr * ph.taps_s;
        const int op = c.pi - jr, oq = c.qi - js;
        if (unsigned(op) < unsigned(g.p) && unsigned(oq) < unsigned(g.q))
          value = __ldg(c.image + (int64_t(ko) * g.p + op) * g.q + oq);
      }
      v[i] = value;
    }
  }
};

struct BackwardDataProblem {
  using OperandA = WeightTransposed;
  using OperandB = GradOutputGather;
  OperandA a;
  OperandB b;
  int m, n, kdim;
  float* dx;
  Geometry g;
  DataPhase ph;
  __device__ __forceinline__ void store(int ch, int col, float value) const {
    const int per_image = ph.rows * ph.cols;
    const int img = ph.div_pixels.div(col), pix = col - img * per_image;
    const int i = ph.div_cols.div(pix), ii = pix - i * ph.cols;
    const int h = ph.h0 + g.stride * i, w = ph.w0 + g.stride * ii;
    dx[(int64_t(img) * g.c + ch) * g.hw + int64_t(h) * g.w + w] = value;
  }
};

// The problem of phase (h0, w0); n == 0 when the phase has no dx pixels. A phase no tap reaches
// has kdim == 0: its GEMM writes zeros.
inline BackwardDataProblem backward_data_problem(const Conv2dShape& sh, const float* dy, const float* w, float* dx,
                                                 int h0 = 0, int w0 = 0) {
  const Geometry g = geometry(sh);
  const DataPhase ph = data_phase(g, h0, w0);
  BackwardDataProblem p{};
  p.a = {g, ph, w};
  p.b = {g, ph, dy, g.n * ph.rows * ph.cols};
  p.m = g.c, p.n = g.n * ph.rows * ph.cols, p.kdim = g.k * ph.taps();
  p.dx = dx, p.g = g, p.ph = ph;
  return p;
}

// ---- backward weight ----------------------------------------------------------------------------
// A(k, npq) = dy[n, k, p, q]: runs of p*q pixels are contiguous, float4 when p*q % 4 == 0.
struct GradOutputRows {
  static constexpr Gather kGather = Gather::KRun;
  Geometry g;
  const float* dy;
  bool vector_ok;
  struct Ctx {
    const float* channel;  // dy + k * p * q
    bool valid;
  };
  __device__ __forceinline__ Ctx context(int ko) const {
    const bool valid = ko < g.k;
    return {dy + int64_t(valid ? ko : 0) * g.pq, valid};
  }
  template <int L, int Step>
  __device__ __forceinline__ void load(const Ctx& c, int k, int k_limit, float (&v)[L]) const {
    if constexpr (L % 4 == 0 && Step == 1) {
      // k % 4 == 0 and p*q % 4 == 0: each group of 4 lies in one image and is 16-byte aligned.
      if (vector_ok && c.valid && k + L <= k_limit) {
ELR_GEMM_UNROLL
        for (int j = 0; j < L; j += 4) {
          const int img = g.div_pq.div(k + j), pix = k + j - img * g.pq;
          const float4 q = __ldg(reinterpret_cast<const float4*>(c.channel + int64_t(img) * g.k * g.pq + pix));
          v[j] = q.x, v[j + 1] = q.y, v[j + 2] = q.z, v[j + 3] = q.w;
        }
        return;
      }
    }
ELR_GEMM_UNROLL
    for (int i = 0; i < L; ++i) {
      const int npq = k + i * Step;
      float value = 0.0f;
      if (c.valid && npq < k_limit) {
        const int img = g.div_pq.div(npq), pix = npq - img * g.pq;
        value = __ldg(c.channel + int64_t(img) * g.k * g.pq + pix);
      }
      v[i] = value;
    }
  }
};

// B(npq, crs) = x[n, c, p*stride - pad + r, q*stride - pad + s]; one weight tap per thread.
struct InputTapRows {
  static constexpr Gather kGather = Gather::KRun;
  Geometry g;
  const float* x;
  int columns;  // c * r * s
  struct Ctx {
    const float* channel;  // x + c * h * w
    int dr, ds;            // r - pad, s - pad
    bool valid;
  };
  __device__ __forceinline__ Ctx context(int crs) const {
    const bool valid = crs < columns;
    const int col = valid ? crs : 0;
    const int ch = g.div_rs.div(col), tap = col - ch * g.rs;
    const int dr = g.div_s.div(tap), ds = tap - dr * g.s;
    return {x + int64_t(ch) * g.hw, dr - g.pad, ds - g.pad, valid};
  }
  template <int L, int Step>
  __device__ __forceinline__ void load(const Ctx& c, int k, int k_limit, float (&v)[L]) const {
ELR_GEMM_UNROLL
    for (int i = 0; i < L; ++i) {
      const int npq = k + i * Step;
      float value = 0.0f;
      if (c.valid && npq < k_limit) {
        const int img = g.div_pq.div(npq), pix = npq - img * g.pq;
        const int op = g.div_q.div(pix), oq = pix - op * g.q;
        const int ih = op * g.stride + c.dr, iw = oq * g.stride + c.ds;
        if (unsigned(ih) < unsigned(g.h) && unsigned(iw) < unsigned(g.w))
          value = __ldg(c.channel + img * g.chw + int64_t(ih) * g.w + iw);
      }
      v[i] = value;
    }
  }
};

struct BackwardWeightProblem {
  using OperandA = GradOutputRows;
  using OperandB = InputTapRows;
  OperandA a;
  OperandB b;
  int m, n, kdim;
  float* dw;
  __device__ __forceinline__ void store(int ko, int crs, float value) const {
    dw[int64_t(ko) * n + crs] = value;
  }
};

inline BackwardWeightProblem backward_weight_problem(const Conv2dShape& sh, const float* x, const float* dy,
                                                     float* dw) {
  const Geometry g = geometry(sh);
  BackwardWeightProblem p{};
  p.a = {g, dy, g.pq % 4 == 0 && gemm::aligned16(dy)};
  p.b = {g, x, g.c * g.rs};
  p.m = g.k, p.n = g.c * g.rs, p.kdim = g.n * g.pq;
  p.dw = dw;
  return p;
}

}  // namespace elr::kernels::conv
