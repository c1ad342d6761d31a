// Every op's argument struct and entry points, in one place.
//
// Conventions:
// - Tensors are contiguous NCHW (activations), KCRS (conv weights), [out, in] (linear weights).
// - CPU entry points end in _cpu, are templates over the scalar type (float for training, double
//   for the finite-difference gradient checks) and use all cores through OpenMP. Their results do
//   not depend on the number of threads (fixed work partitions, reductions in a fixed order).
// - CUDA entry points (kernels/cuda, float only) take the same arguments in the same order plus a
//   stream, and a caller-owned workspace where they need scratch memory (the conv/GEMM weight
//   gradients, the BN training forward and backward, the cross-entropy forward).
// - Backward entry points OVERWRITE their outputs (the autograd tape accumulates).
#pragma once
#include <cstddef>
#include <cstdint>

struct CUstream_st;  // cudaStream_t is CUstream_st*; declared here so this header stays plain C++

namespace elr::kernels {

using Stream = CUstream_st*;  // nullptr: the default stream

// Scratch device memory a CUDA entry point takes from its caller (sized by its *_workspace_bytes),
// in use until the entry's work on the stream is done.
struct Workspace {
  void* data = nullptr;
  size_t bytes = 0;
};

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

// The two halves of the training forward and of the backward, for batch statistics over more values
// than one call sees (several ranks' batches, engine/ops.cpp's sync BN): the kernels above run both
// halves per channel on their own values, with the same arithmetic.
//
// A channel's moments: its values x = shift + d, with the shift k (the mean of the channel's first
// row, rounded to T: a value near the mean that keeps x - k exact), the mean of d and the sum of
// squared deviations from the mean, in double.
struct BatchNormMoments {
  double count = 0;  // values
  double shift = 0;  // k, a value of T
  double mean = 0;   // mean of x - k
  double m2 = 0;     // sum of (x - mean)^2
};
template <class T>
void batchnorm_moments_cpu(const BatchNormShape& sh, const T* x, BatchNormMoments* moments);
// The moments of the values of a and b together (Chan, Golub and LeVeque), with a's shift.
BatchNormMoments combine_batchnorm_moments(const BatchNormMoments& a, const BatchNormMoments& b);
// The training forward given each channel's moments (of x, or of a batch x is part of): y, the saved
// mean and 1/sqrt(var + eps), the running statistics (unbiased variance over moments.count values).
template <class T>
void batchnorm_forward_apply_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* gamma,
                                 const T* beta, const BatchNormMoments* moments, T* y, T* save_mean, T* save_invstd,
                                 T* running_mean, T* running_var);
// A channel's sums of the backward, with g = dy masked by the fused ReLU: sum(g), sum(g (x - mean)).
struct BatchNormGradSums {
  double count = 0;  // values
  double g = 0, g_xc = 0;
};
// The sums of this call's values, and dgamma / dbeta from them (may be null); stores g into dx when
// p.relu (batchnorm_backward_dx_cpu reads it there).
template <class T>
void batchnorm_backward_sums_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* y,
                                 const T* dy, const T* save_mean, const T* save_invstd, T* dx, BatchNormGradSums* sums,
                                 T* dgamma, T* dbeta);
// dx given each channel's sums over the whole batch the statistics were taken over.
template <class T>
void batchnorm_backward_dx_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* dy,
                               const T* gamma, const T* save_mean, const T* save_invstd, const BatchNormGradSums* sums,
                               T* dx);

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
// The ImageNet ResNet stem's 3x3 stride-2 max-pool with padding 1 (PyTorch's MaxPool2d(3, 2, 1)):
// output [n, c, (h+1)/2, (w+1)/2]; the padding never wins. Windows overlap, so the backward adds
// the gradients of every output whose arg-max is the same input, in output order.
inline int maxpool3x3s2_size(int input) { return (input + 1) / 2; }
template <class T> void maxpool3x3s2_forward_cpu(const PoolShape& sh, const T* x, T* y, int32_t* argmax);
template <class T> void maxpool3x3s2_backward_cpu(const PoolShape& sh, const int32_t* argmax, const T* dy, T* dx);
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
// Dampened: v = (1 - momentum) * d on the first step, else v = momentum * v + (1 - momentum) * d (an
// average of the gradients, so the steady step is lr * g, not lr * g / (1 - momentum)).
// Returns |lr * step|^2 (the applied update), accumulated in double.
struct SgdParams {
  float lr = 0.1f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  bool dampened = false;
  bool first_step = true;  // momentum buffer not yet initialized
};
double sgd_update_cpu(int64_t count, const SgdParams& p, float* w, const float* g, float* v);  // v null without momentum

// ==== CUDA entry points (kernels/cuda/*.cu) ======================================================
// Same arguments in the same order as the CPU entry points, all pointers on the device, plus the
// stream. They are compiled by nvcc for the GPU and, through the CPU execution layer
// (kernels/simt), as C++ for tests without a GPU.

// ---- CUDA: batch norm, elementwise, pooling, loss, statistics, LR control, SGD ----------------
// (region owned by the CUDA-kernels work; keep declarations for other ops out of it)
// float only. Nothing here synchronizes the host: results stay on the device (loss, counts,
// statistics, learning rates) for the next kernel or an asynchronous copy.
// The BN training forward and backward split each channel over several blocks whose partial sums
// go to a workspace of batchnorm_workspace_bytes(shape) bytes (added in a fixed order: no atomics).
size_t batchnorm_workspace_bytes(const BatchNormShape& sh);
void batchnorm_forward_train_cuda(const BatchNormShape& sh, const BatchNormParams& p, const float* x,
                                  const float* gamma, const float* beta, float* y, float* save_mean,
                                  float* save_invstd, float* running_mean, float* running_var, Workspace workspace,
                                  Stream stream);
void batchnorm_forward_eval_cuda(const BatchNormShape& sh, const BatchNormParams& p, const float* x,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, float* y, Stream stream);
void batchnorm_backward_cuda(const BatchNormShape& sh, const BatchNormParams& p, const float* x, const float* y,
                             const float* dy, const float* gamma, const float* save_mean, const float* save_invstd,
                             float* dx, float* dgamma, float* dbeta, Workspace workspace,
                             Stream stream);  // dgamma/dbeta may be null

void fill_cuda(int64_t count, float value, float* y, Stream stream);  // y[i] = value
void relu_forward_cuda(int64_t count, const float* x, float* y, Stream stream);
void relu_backward_cuda(int64_t count, const float* y, const float* dy, float* dx, Stream stream);
void add_forward_cuda(int64_t count, bool relu, const float* a, const float* b, float* y, Stream stream);
void add_backward_cuda(int64_t count, bool relu, const float* y, const float* dy, float* da, float* db,
                       Stream stream);

void maxpool2x2_forward_cuda(const PoolShape& sh, const float* x, float* y, int32_t* argmax, Stream stream);
void maxpool2x2_backward_cuda(const PoolShape& sh, const int32_t* argmax, const float* dy, float* dx, Stream stream);
void maxpool3x3s2_forward_cuda(const PoolShape& sh, const float* x, float* y, int32_t* argmax, Stream stream);
void maxpool3x3s2_backward_cuda(const PoolShape& sh, const int32_t* argmax, const float* dy, float* dx,
                                Stream stream);
void global_avgpool_forward_cuda(const PoolShape& sh, const float* x, float* y, Stream stream);
void global_avgpool_backward_cuda(const PoolShape& sh, const float* dy, float* dx, Stream stream);

// loss: one float on the device; correct: one int64 on the device (may be null). Labels are not
// checked on the host (that would synchronize): a row with a label outside [0, classes) makes the
// loss NaN, and its dlogits row NaN in the backward. The forward's blocks write partials to a
// workspace of cross_entropy_forward_workspace_bytes(shape) bytes.
size_t cross_entropy_forward_workspace_bytes(const CrossEntropyShape& sh);
void cross_entropy_forward_cuda(const CrossEntropyShape& sh, const float* logits, const int32_t* labels,
                                float* loss, float* probs, int64_t* correct, Workspace workspace, Stream stream);
void cross_entropy_backward_cuda(const CrossEntropyShape& sh, const float* probs, const int32_t* labels,
                                 float dloss, float* dlogits, Stream stream);

// Multi-tensor kernels (statistics, SGD): a list of parameter tensors handled in one launch of a
// chunked kernel (per-chunk partials in double) plus one finishing block per tensor. Results are
// the same bits on every run. The list is built once (tensor sizes do not change between steps).
struct MultiTensorDesc {
  float* w = nullptr;        // weights (device)
  const float* g = nullptr;  // gradient (device)
  float* v = nullptr;        // momentum buffer (device); null: none
  int64_t count = 0;
};
constexpr int kMultiTensorChunk = 4096;  // elements per chunk (one block each)
struct MultiTensorList {
  const MultiTensorDesc* descs = nullptr;  // device [tensors]
  const int32_t* chunk_tensor = nullptr;   // device [chunks]: the tensor each chunk belongs to
  const int32_t* first_chunk = nullptr;    // device [tensors + 1]: chunk range of each tensor
  double* partials = nullptr;              // device workspace [chunks * 4]
  int tensors = 0, chunks = 0;
  bool momentum_buffers = false;  // every non-empty tensor has a v (checked by sgd_update_cuda)
};
// Allocates and uploads the device arrays (synchronous: call at setup, not inside a step).
MultiTensorList make_multi_tensor_list(const MultiTensorDesc* host_descs, int tensors);
void free_multi_tensor_list(MultiTensorList& list);

// stats[t] = {|w|^2, |g|^2, <g, w>, |v|^2} of tensor t (device array of TensorStats).
void tensor_stats_cuda(const MultiTensorList& list, TensorStats* stats, Stream stream);

// Per-layer learning rates from the statistics on the device: the rule of kernels/lr_control_rule.h,
// which LrController::decide (optim/lr_control.cpp) runs on the host. The kinds of LR control
// (--lr-control none | critical-warmup | uniform-elr | lars | max-elr-warmup), for host and device alike.
enum class LrControlKind : int32_t { None = 0, CriticalWarmup = 1, UniformElr = 2, Lars = 3, MaxElrWarmup = 4 };
constexpr uint8_t kLayerScaleInvariant = 1;  // layer_flags bits
constexpr uint8_t kLayerLarsWeight = 2;      // a weight LARS rescales (conv, linear, classifier .weight)
constexpr uint8_t kLayerAffine = 4;          // a BN gamma or beta or a classifier tensor (--affine-lr-scale)
struct LrControlArgs {
  LrControlKind kind = LrControlKind::None;
  double target_lr = 0;    // scheduled_lr(schedule, step)
  int64_t step_index = 0;  // the step, when there is no device step counter
  double base_lr = 0;      // schedule.lr
  double lars_trust = 0.001;
  double affine_lr_scale = 1;  // the kLayerAffine tensors' lr multiplier (0 freezes them)
  // uniform-elr: the reference set at the first step is lr x the smallest e (else the median e);
  // the target's 1/E^2 grows by elr_growth per step (0: a constant target), down to elr_floor
  // (kernels/lr_control_rule.h).
  bool reference_min_e = false;
  double elr_growth = 0, elr_floor = 0;
  // A step that replays as a CUDA graph cannot take the scheduled LR from the host: when set, the
  // kernel reads it as schedule[min(*step, schedule_steps - 1)] (device table and step counter).
  const double* schedule = nullptr;
  const int64_t* step = nullptr;
  int64_t schedule_steps = 0;
};
// reference_elr: one double on the device, in/out (uniform-elr freezes it at the first step when
// it is <= 0). lrs: device [layers]; global_lr: one double on the device (may be null).
void lr_control_cuda(int layers, const TensorStats* stats, const uint8_t* layer_flags, const LrControlArgs& args,
                     double* reference_elr, double* lrs, double* global_lr, Stream stream);

// One training step's record, written on the device into slot (*step % slots) of a ring buffer of
// doubles, then *step is incremented (the device's step counter, read by the LR schedule). Slot
// layout: [step, loss, correct, global_lr], then per layer [w2, g2, gw, v2, dw2, lr]. loss: one
// float; correct: one int64; global_lr: one double.
constexpr int kStepRecordHeader = 4;
constexpr int kStepRecordPerLayer = 6;
struct StepRecordArgs {
  int layers = 0;
  const float* loss = nullptr;
  const int64_t* correct = nullptr;
  const double* global_lr = nullptr;
  const TensorStats* stats = nullptr;
  const double* lrs = nullptr;
  const double* dw2 = nullptr;
  int64_t* step = nullptr;
  double* ring = nullptr;
  int slots = 0;
};
inline int step_record_doubles(int layers) { return kStepRecordHeader + kStepRecordPerLayer * layers; }
void step_record_cuda(const StepRecordArgs& args, Stream stream);

// SGD over every tensor of the list, PyTorch conventions as sgd_update_cpu; tensor t uses
// float(lrs[t]) when lrs (device) is given, else p.lr. dw2[t] = |lr * step|^2 (device, double).
void sgd_update_cuda(const MultiTensorList& list, const SgdParams& p, const double* lrs, double* dw2,
                     Stream stream);
// ---- end of region ----

// ---- CUDA: conv2d and GEMM -----------------------------------------------------------------
// (region owned by the CUDA conv/GEMM work)
// Implicit GEMM on CUDA cores in FP32, no im2col buffer (kernels/cuda/conv2d.cu). The weight
// gradient splits the batch*pixels axis by a count fixed by the shape and adds the partials in a
// fixed order: deterministic, no float atomics.
//
// The split's partial tiles go to a workspace the caller owns (the engine's CUDA backend takes it
// from its caching allocator, so a CUDA graph capture draws it from the capture's pool): device
// memory of at least *_workspace_bytes(shape) bytes (0: the shape runs unsplit, data may be null),
// in use until the entry's work on the stream is done. The size depends on the tile and TF32
// settings below as well: ask after changing them.
void conv2d_forward_cuda(const Conv2dShape& sh, const float* x, const float* w, float* y, Stream stream);
void conv2d_backward_data_cuda(const Conv2dShape& sh, const float* dy, const float* w, float* dx,
                               Stream stream);
size_t conv2d_backward_weight_workspace_bytes(const Conv2dShape& sh);
void conv2d_backward_weight_cuda(const Conv2dShape& sh, const float* x, const float* dy, float* dw,
                                 Workspace workspace, Stream stream);
// The linear layer through the same tiled SGEMM (kernels/cuda/sgemm.cu): dx = dy w, dw = dy^T x
// (split over the batch like the conv weight gradient), db = column sums of dy (one thread per
// column, in row order). b, dx, dw, db may be null.
void linear_forward_cuda(const LinearShape& sh, const float* x, const float* w, const float* b, float* y,
                         Stream stream);
size_t linear_backward_workspace_bytes(const LinearShape& sh);  // for dw
void linear_backward_cuda(const LinearShape& sh, const float* x, const float* w, const float* dy, float* dx,
                          float* dw, float* db, Workspace workspace, Stream stream);
// Tile shape of those kernels: chosen from the problem shape (Auto) unless forced, for tests and
// benchmarks. Process-wide: change it only while no launch is being issued.
enum class GemmTiles { Auto, Tiles32, Tiles64, Tiles128 };
void set_cuda_gemm_tiles(GemmTiles tiles);
GemmTiles cuda_gemm_tiles();
// TF32 tensor cores (sm_80+) for those GEMMs instead of FP32 FMA: about 10 bits of mantissa per
// product. Default off; GPU builds only (the CPU execution layer always runs FP32). Process-wide.
void set_cuda_conv_tf32(bool on);
bool cuda_conv_tf32();
// ---- end of region ----

}  // namespace elr::kernels
