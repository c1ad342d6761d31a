// Every op's argument struct and entry points, in one place.
//
// Conventions:
// - Tensors are contiguous NCHW (activations), KCRS (conv weights), [out, in] (linear weights).
// - CPU entry points end in _cpu, are templates over the scalar type (float for training, double
//   for the finite-difference gradient checks) and use all cores through OpenMP. Their results do
//   not depend on the number of threads (fixed work partitions, reductions in a fixed order).
// - CUDA entry points (later) take the same arguments in the same order plus a stream.
// - Backward entry points OVERWRITE their outputs (the autograd tape accumulates).
#pragma once
#include <cstdint>

struct CUstream_st;  // cudaStream_t is CUstream_st*; declared here so this header stays plain C++

namespace elr::kernels {

using Stream = CUstream_st*;  // nullptr: the default stream

// ---- conv2d (no bias: a BatchNorm follows every conv) ------------------------------------------
struct Conv2dShape {
  int n = 1, c = 1, h = 1, w = 1;  // input  [n, c, h, w]
  int k = 1, r = 3, s = 3;         // weight [k, c, r, s]
  int stride = 1, pad = 1;
  int p() const { return (h + 2 * pad - r) / stride + 1; }  // output height
  int q() const { return (w + 2 * pad - s) / stride + 1; }  // output width
};
// y[n, k, p, q] = sum_{c,r,s} x[n, c, p*stride - pad + r, q*stride - pad + s] * w[k, c, r, s]
template <class T> void conv2d_forward_cpu(const Conv2dShape& sh, const T* x, const T* w, T* y);
template <class T> void conv2d_backward_data_cpu(const Conv2dShape& sh, const T* dy, const T* w, T* dx);
template <class T> void conv2d_backward_weight_cpu(const Conv2dShape& sh, const T* x, const T* dy, T* dw);
// Direct loops, single-threaded: the test oracle for every conv path, never used for training.
template <class T> void conv2d_forward_naive(const Conv2dShape& sh, const T* x, const T* w, T* y);
template <class T> void conv2d_backward_data_naive(const Conv2dShape& sh, const T* dy, const T* w, T* dx);
template <class T> void conv2d_backward_weight_naive(const Conv2dShape& sh, const T* x, const T* dy, T* dw);

// ---- batch norm 2d, PyTorch semantics, optional fused ReLU --------------------------------------
struct BatchNormShape {
  int n = 1, c = 1, hw = 1;  // x viewed as [n, c, hw]
};
struct BatchNormParams {
  float momentum = 0.1f;  // running = (1 - momentum) * running + momentum * batch
  float eps = 1e-5f;
  bool relu = false;  // y = max(0, bn(x))
};
// Training: normalizes with the biased batch variance, updates running_var with the unbiased one.
// Saves per-channel mean and 1/sqrt(var + eps) for the backward. Throws when n*hw == 1.
// running_mean / running_var may be null (no update).
template <class T>
void batchnorm_forward_train_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* gamma,
                                 const T* beta, T* y, T* save_mean, T* save_invstd, T* running_mean,
                                 T* running_var);
template <class T>
void batchnorm_forward_eval_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* gamma,
                                const T* beta, const T* running_mean, const T* running_var, T* y);
// Backward of the training forward. y is the forward output (its sign is the ReLU mask when p.relu).
template <class T>
void batchnorm_backward_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* y,
                            const T* dy, const T* gamma, const T* save_mean, const T* save_invstd, T* dx,
                            T* dgamma, T* dbeta);

// ---- elementwise ------------------------------------------------------------------------------
template <class T> void relu_forward_cpu(int64_t count, const T* x, T* y);
template <class T> void relu_backward_cpu(int64_t count, const T* y, const T* dy, T* dx);  // dx = dy * (y > 0)
// Residual add: y = a + b, or max(0, a + b) when relu.
template <class T> void add_forward_cpu(int64_t count, bool relu, const T* a, const T* b, T* y);
template <class T> void add_backward_cpu(int64_t count, bool relu, const T* y, const T* dy, T* da, T* db);

// ---- linear: y[n, out] = x[n, in] * w[out, in]^T + b[out] ---------------------------------------
struct LinearShape {
  int n = 1, in = 1, out = 1;
};
template <class T> void linear_forward_cpu(const LinearShape& sh, const T* x, const T* w, const T* b, T* y);  // b may be null
template <class T>
void linear_backward_cpu(const LinearShape& sh, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db);  // db may be null

// ---- pooling ----------------------------------------------------------------------------------
struct PoolShape {
  int n = 1, c = 1, h = 1, w = 1;  // input; 2x2 max-pool output is [n, c, h/2, w/2] (floor)
};
// argmax[i] = the flat input index of output i's maximum (first maximum on ties, as PyTorch).
template <class T> void maxpool2x2_forward_cpu(const PoolShape& sh, const T* x, T* y, int32_t* argmax);
template <class T> void maxpool2x2_backward_cpu(const PoolShape& sh, const int32_t* argmax, const T* dy, T* dx);
// Global average pool: y[n, c] = mean over h*w.
template <class T> void global_avgpool_forward_cpu(const PoolShape& sh, const T* x, T* y);
template <class T> void global_avgpool_backward_cpu(const PoolShape& sh, const T* dy, T* dx);

// ---- softmax cross-entropy, mean over the batch --------------------------------------------------
struct CrossEntropyShape {
  int n = 1, classes = 1;
};
// Writes the mean loss, the softmax probabilities (saved for the backward) and the number of rows
// whose arg-max equals the label. Labels outside [0, classes) throw.
template <class T>
void cross_entropy_forward_cpu(const CrossEntropyShape& sh, const T* logits, const int32_t* labels, T* loss,
                               T* probs, int64_t* correct);
// dlogits = dloss * (probs - onehot(labels)) / n
template <class T>
void cross_entropy_backward_cpu(const CrossEntropyShape& sh, const T* probs, const int32_t* labels, T dloss,
                                T* dlogits);

// ---- optimizer --------------------------------------------------------------------------------
// Sums over one parameter tensor, accumulated in double: |W|^2, |g|^2, <g, W>, |v|^2.
struct TensorStats {
  double w2 = 0, g2 = 0, gw = 0, v2 = 0;
};
TensorStats tensor_stats_cpu(int64_t count, const float* w, const float* g, const float* v);  // v may be null

// SGD with PyTorch conventions: d = g + wd * w; v = d on the first step, else v = momentum * v + d;
// the step is d + momentum * v (nesterov) or v (heavy ball), or d without momentum; w -= lr * step.
// Returns |lr * step|^2 (the applied update), accumulated in double.
struct SgdParams {
  float lr = 0.1f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  bool first_step = true;  // momentum buffer not yet initialized
};
double sgd_update_cpu(int64_t count, const SgdParams& p, float* w, const float* g, float* v);  // v null without momentum

// ==== CUDA entry points (kernels/cuda/*.cu) ======================================================
// Same arguments in the same order as the CPU entry points, all pointers on the device, plus the
// stream. They are compiled by nvcc for the GPU and, through the CPU execution layer
// (kernels/simt), as C++ for tests without a GPU.

// ---- CUDA: batch norm, elementwise, pooling, loss, statistics, LR control, SGD ----------------
// (region owned by the CUDA-kernels work; keep declarations for other ops out of it)
// ---- end of region ----

// ---- CUDA: conv2d and GEMM -----------------------------------------------------------------
// (region owned by the CUDA conv/GEMM work)
// ---- end of region ----

}  // namespace elr::kernels
