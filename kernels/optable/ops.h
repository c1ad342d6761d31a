// Every op's cases, one class per kernel. Each lists its tensors as "inputs -> outputs" (* marks
// in/out tensors); the entries address them by position.
// The families share a base with the shape, the case name and the tolerance op; their inputs,
// references and CPU entries are in the .cpp file of the same name (conv2d.cpp, batchnorm.cpp, ...).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "kernels/optable/op_case.h"

namespace elr::kernels {

// ---- conv2d ---------------------------------------------------------------------------------------
// The reference checks every image while the direct loops cost at most kFullReferenceMacs
// multiply-adds (the tests' shapes); beyond (the benchmarks' batch of 128) the first and the last
// image, with the weight gradient's dy zero on the others.
class Conv2dCase : public OpCase {
 public:
  static constexpr double kFullReferenceMacs = double(1 << 25);
  explicit Conv2dCase(const Conv2dShape& s) : shape(s) {}
  std::string name() const override;
  double flop() const override;
  std::vector<int> checked_images() const;
  const Conv2dShape shape;

 protected:
  std::string tolerance_op() const override { return "conv2d"; }
};

class Conv2dForward final : public Conv2dCase {  // x, w -> y
 public:
  using Conv2dCase::Conv2dCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
};

class Conv2dBackwardData final : public Conv2dCase {  // dy, w -> dx
 public:
  using Conv2dCase::Conv2dCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  std::unique_ptr<OpCase> forward() const override;
};

class Conv2dBackwardWeight final : public Conv2dCase {  // x, dy -> dw
 public:
  using Conv2dCase::Conv2dCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  std::unique_ptr<OpCase> forward() const override;
  std::vector<Values> validation_inputs(const std::vector<Values>& inputs) const override;
};

// ---- batch norm (PyTorch semantics, optional fused ReLU; default momentum and eps) -----------------
class BatchNormCase : public OpCase {
 public:
  BatchNormCase(const BatchNormShape& s, bool relu);
  std::string name() const override;  // batchnorm(n=..,c=..,hw=..), "+relu" with the fused ReLU
  int64_t count() const { return int64_t(shape.n) * shape.c * shape.hw; }
  const BatchNormShape shape;
  const BatchNormParams params;
};

// x, gamma, beta, running_mean*, running_var* -> y, save_mean, save_invstd
class BatchNormTrainForward final : public BatchNormCase {
 public:
  using BatchNormCase::BatchNormCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;

 protected:
  std::string tolerance_op() const override { return "batchnorm_train"; }
};

class BatchNormEvalForward final : public BatchNormCase {  // x, gamma, beta, running_mean, running_var -> y
 public:
  using BatchNormCase::BatchNormCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;

 protected:
  std::string tolerance_op() const override { return "batchnorm_eval"; }
};

// x, y, dy, gamma, save_mean, save_invstd -> dx, dgamma, dbeta
class BatchNormBackward final : public BatchNormCase {
 public:
  using BatchNormCase::BatchNormCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  std::unique_ptr<OpCase> forward() const override;

 protected:
  std::string tolerance_op() const override { return "batchnorm_train"; }
};

// ---- elementwise ------------------------------------------------------------------------------------
class ReluCase : public OpCase {
 public:
  explicit ReluCase(int64_t n) : count(n) {}
  std::string name() const override;  // relu(count=..)
  const int64_t count;

 protected:
  std::string tolerance_op() const override { return "relu"; }
};

class ReluForward final : public ReluCase {  // x -> y
 public:
  using ReluCase::ReluCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
};

class ReluBackward final : public ReluCase {  // y, dy -> dx
 public:
  using ReluCase::ReluCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  std::unique_ptr<OpCase> forward() const override;
};

class AddCase : public OpCase {  // the residual add, y = a + b or max(0, a + b)
 public:
  AddCase(int64_t n, bool relu_) : count(n), relu(relu_) {}
  std::string name() const override;  // add(count=..), "+relu" with the ReLU
  const int64_t count;
  const bool relu;

 protected:
  std::string tolerance_op() const override { return "add"; }
};

class AddForward final : public AddCase {  // a, b -> y
 public:
  using AddCase::AddCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
};

class AddBackward final : public AddCase {  // y, dy -> da, db
 public:
  using AddCase::AddCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  std::unique_ptr<OpCase> forward() const override;
};

// ---- linear ---------------------------------------------------------------------------------------
class LinearCase : public OpCase {
 public:
  explicit LinearCase(const LinearShape& s) : shape(s) {}
  std::string name() const override;  // linear(n=..,in=..,out=..)
  const LinearShape shape;

 protected:
  std::string tolerance_op() const override { return "linear"; }
};

class LinearForward final : public LinearCase {  // x, w, b -> y
 public:
  using LinearCase::LinearCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  double flop() const override;
};

class LinearBackward final : public LinearCase {  // x, w, dy -> dx, dw, db
 public:
  using LinearCase::LinearCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  double flop() const override;
  std::unique_ptr<OpCase> forward() const override;
};

// ---- pooling --------------------------------------------------------------------------------------
class PoolCase : public OpCase {
 public:
  explicit PoolCase(const PoolShape& s) : shape(s) {}
  std::string name() const override;  // pool(n=..,c=..,h=..,w=..)
  int64_t input_count() const { return int64_t(shape.n) * shape.c * shape.h * shape.w; }
  const PoolShape shape;
};

class MaxPoolForward final : public PoolCase {  // x -> y, argmax (the first maximum of each window)
 public:
  using PoolCase::PoolCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;

 protected:
  std::string tolerance_op() const override { return "maxpool2d"; }
};

class MaxPoolBackward final : public PoolCase {  // argmax, dy -> dx
 public:
  using PoolCase::PoolCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  std::unique_ptr<OpCase> forward() const override;

 protected:
  std::string tolerance_op() const override { return "maxpool2d"; }
};

class AvgPoolForward final : public PoolCase {  // x -> y
 public:
  using PoolCase::PoolCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;

 protected:
  std::string tolerance_op() const override { return "global_avgpool"; }
};

class AvgPoolBackward final : public PoolCase {  // dy -> dx
 public:
  using PoolCase::PoolCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  std::unique_ptr<OpCase> forward() const override;

 protected:
  std::string tolerance_op() const override { return "global_avgpool"; }
};

// The ImageNet stem's 3x3 stride-2 max-pool with padding 1: overlapping windows, so the backward adds.
class MaxPool3x3s2Forward final : public PoolCase {  // x -> y, argmax (the first maximum of each window)
 public:
  using PoolCase::PoolCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;

 protected:
  std::string tolerance_op() const override { return "maxpool3x3s2"; }
};

class MaxPool3x3s2Backward final : public PoolCase {  // argmax, dy -> dx
 public:
  using PoolCase::PoolCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  std::unique_ptr<OpCase> forward() const override;

 protected:
  std::string tolerance_op() const override { return "maxpool3x3s2"; }
};

// ---- softmax cross-entropy --------------------------------------------------------------------------
class CrossEntropyCase : public OpCase {
 public:
  explicit CrossEntropyCase(const CrossEntropyShape& s) : shape(s) {}
  std::string name() const override;  // cross_entropy(n=..,classes=..)
  int64_t count() const { return int64_t(shape.n) * shape.classes; }
  const CrossEntropyShape shape;

 protected:
  std::string tolerance_op() const override { return "cross_entropy"; }
};

class CrossEntropyForward final : public CrossEntropyCase {  // logits, labels -> loss, probs, correct
 public:
  using CrossEntropyCase::CrossEntropyCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
};

class CrossEntropyBackward final : public CrossEntropyCase {  // probs, labels, dloss -> dlogits
 public:
  using CrossEntropyCase::CrossEntropyCase;
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  void cpu_double(const OpArgs& a) const override;
  std::unique_ptr<OpCase> forward() const override;
};

// ---- optimizer: a list of parameter tensors, stored back to back in one buffer per tensor kind -----
class TensorListCase : public OpCase {
 public:
  TensorListCase(std::vector<int64_t> sizes, std::string label);
  std::string name() const override;  // "<label> (<tensors> tensors, <values> values)"
  int tensors_in_list() const { return static_cast<int>(sizes.size()); }
  const std::vector<int64_t> sizes;  // element counts (0 allowed)
  const std::vector<int64_t> offsets;  // where each tensor starts
  const int64_t total;
  const std::string label;

 protected:
  // w, g and v of tensor t drawn from seeds 100 + 3t, 101 + 3t, 102 + 3t.
  Values list_values(int which, float lo, float hi) const;
};

class TensorStatsCase final : public TensorListCase {  // w, g[, v] -> stats [tensors, 4]: |w|^2, |g|^2, <g, w>, |v|^2
 public:
  TensorStatsCase(std::vector<int64_t> sizes, std::string label, bool momentum_buffers = true);
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  const bool momentum_buffers;

 protected:
  std::string tolerance_op() const override { return "tensor_stats"; }
};

class SgdCase final : public TensorListCase {  // w*, g[, v*][, lrs] -> dw2 (|lr * step|^2 per tensor)
 public:
  // per_tensor_lr: tensor t steps with float(lrs[t]) (lrs = 0.05 + 0.01 t), as the LR-controlled step.
  SgdCase(std::vector<int64_t> sizes, std::string label, const SgdParams& params, bool per_tensor_lr = false);
  Op op() const override;
  std::string kernel() const override;
  std::vector<TensorSpec> tensors() const override;
  std::vector<Values> make_inputs() const override;
  std::vector<Expected> reference(const std::vector<Values>& inputs) const override;
  void cpu(const OpArgs& a) const override;
  double bytes() const override;
  bool momentum() const { return params.momentum != 0; }
  int lrs_index() const { return momentum() ? 3 : 2; }  // the tensors after w, g[, v]
  int dw2_index() const { return lrs_index() + (per_tensor_lr ? 1 : 0); }
  const SgdParams params;
  const bool per_tensor_lr;

 protected:
  std::string tolerance_op() const override { return "sgd"; }
};

// The cases of one op family at one shape (all its kernels).
std::vector<OpCasePtr> conv2d_cases(const Conv2dShape& s);
std::vector<OpCasePtr> batchnorm_cases(const BatchNormShape& s, bool relu);  // train forward, eval forward, backward
std::vector<OpCasePtr> relu_cases(int64_t count);
std::vector<OpCasePtr> add_cases(int64_t count, bool relu);
std::vector<OpCasePtr> linear_cases(const LinearShape& s);
std::vector<OpCasePtr> pool_cases(const PoolShape& s);  // both max-pools and the global average pool
std::vector<OpCasePtr> cross_entropy_cases(const CrossEntropyShape& s);

// Downcast to a kernel's case (the CUDA column and the vendor peers read shapes and parameters).
template <class T>
const T& as(const OpCase& c) {
  return static_cast<const T&>(c);
}

}  // namespace elr::kernels
