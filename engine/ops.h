// Differentiable ops: shape checks, the kernel call for the tensor's device, and the tape record.
// Shape errors name the op and both shapes.
#pragma once
#include <cstdint>

#include "engine/comm.h"
#include "engine/tensor.h"

namespace elr::ops {

// x [n, c, h, w], w [k, c, r, s] -> [n, k, p, q]. No bias (a BatchNorm follows every conv).
Tensor conv2d(const Tensor& x, const Tensor& w, int stride, int pad);

struct BatchNormOptions {
  bool training = true;
  bool relu = false;  // fused ReLU on the output
  float momentum = 0.1f;
  float eps = 1e-5f;
  // Training statistics over each of this many equal slices of the batch, as that many ranks without
  // sync BN take them; the running statistics follow the first slice (rank 0's).
  int groups = 1;
  // Training statistics over the batches of all these ranks (sync BN, CPU): the forward's moments and
  // the backward's two sums per channel are combined across the ranks; null: this batch's alone.
  Communicator* ranks = nullptr;
};
// x [n, c, h, w]; gamma, beta, running_mean, running_var [c]. Training updates the running stats.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, const BatchNormOptions& opt);

Tensor relu(const Tensor& x);
Tensor add(const Tensor& a, const Tensor& b, bool relu = false);  // residual add, optional fused ReLU
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);  // x [n, in], w [out, in], b [out] or undefined
Tensor max_pool2x2(const Tensor& x);
Tensor max_pool3x3s2(const Tensor& x);    // 3x3 window, stride 2, padding 1: [n, c, h, w] -> [n, c, (h+1)/2, (w+1)/2]
Tensor global_avg_pool(const Tensor& x);  // [n, c, h, w] -> [n, c]
Tensor flatten(const Tensor& x);          // [n, ...] -> [n, prod(...)]
Tensor reshape(const Tensor& x, const Shape& shape);  // same numel, shares storage

struct LossResult {
  Tensor loss;           // [1], mean over the batch, on the logits' device
  int64_t correct = 0;   // rows whose arg-max is the label (CPU)
  Tensor correct_count;  // the same as an i64 [1] on the device (CUDA: read it when needed)
  int64_t correct_on_host() const;  // either way, on the host (a CUDA copy synchronizes)
};
LossResult cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace elr::ops
