#include "engine/ops.h"

#include <vector>

#include "engine/autograd.h"
#include "engine/device_ops.h"
#include "engine/error.h"
#include "kernels/kernels.h"

namespace elr::ops {

using autograd::Node;
using autograd::tape;

namespace {

void require_f32(const char* op, const char* what, const Tensor& t) {
  ELR_CHECK(t.defined(), "{}: {} is undefined", op, what);
  ELR_CHECK(t.dtype() == DType::F32, "{}: {} must be f32, got {}", op, what, t.str());
}

void require_same_device(const char* op, const Tensor& a, const Tensor& b) {
  ELR_CHECK(a.device() == b.device(), "{}: tensors on different devices: {} and {}", op, a.str(), b.str());
}

// An uninitialized f32 tensor on `like`'s device.
Tensor empty_like(const Shape& shape, const Tensor& like, DType dtype = DType::F32) {
  return Tensor::empty(shape, dtype, like.device());
}

void require_ndim(const char* op, const char* what, const Tensor& t, int ndim) {
  ELR_CHECK(t.ndim() == ndim, "{}: {} must have {} dimensions, got shape {}", op, what, ndim, shape_str(t.shape()));
}

kernels::BatchNormShape bn_shape(const Tensor& x) {
  return {static_cast<int>(x.dim(0)), static_cast<int>(x.dim(1)), static_cast<int>(x.dim(2) * x.dim(3))};
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, int stride, int pad) {
  const char* op = "conv2d";
  require_f32(op, "input", x);
  require_f32(op, "weight", w);
  require_ndim(op, "input", x, 4);
  require_ndim(op, "weight", w, 4);
  ELR_CHECK(x.dim(1) == w.dim(1), "conv2d: input {} has {} channels but weight {} expects {}", shape_str(x.shape()),
            x.dim(1), shape_str(w.shape()), w.dim(1));
  kernels::Conv2dShape sh;
  sh.n = static_cast<int>(x.dim(0));
  sh.c = static_cast<int>(x.dim(1));
  sh.h = static_cast<int>(x.dim(2));
  sh.w = static_cast<int>(x.dim(3));
  sh.k = static_cast<int>(w.dim(0));
  sh.r = static_cast<int>(w.dim(2));
  sh.s = static_cast<int>(w.dim(3));
  sh.stride = stride;
  sh.pad = pad;
  ELR_CHECK(stride >= 1 && pad >= 0 && sh.p() > 0 && sh.q() > 0,
            "conv2d: input {} with weight {}, stride {}, pad {} gives an empty output", shape_str(x.shape()),
            shape_str(w.shape()), stride, pad);
  require_same_device(op, x, w);
  Tensor y = empty_like({sh.n, sh.k, sh.p(), sh.q()}, x);
  if (x.device().is_cuda())
    cuda_ops().conv2d_forward(sh, x.data(), w.data(), y.data(), cuda_ops().stream());
  else
    kernels::conv2d_forward_cpu(sh, x.data(), w.data(), y.data());
  tape().record(op, {x, w}, {y}, [sh](Node& node) {
    Tensor dy = node.output_grad(0);
    const bool cuda = dy.device().is_cuda();
    if (node.needs_grad(0)) {
      Tensor dx = empty_like(node.inputs[0].shape(), dy);
      if (cuda)
        cuda_ops().conv2d_backward_data(sh, dy.data(), node.inputs[1].data(), dx.data(), cuda_ops().stream());
      else
        kernels::conv2d_backward_data_cpu(sh, dy.data(), node.inputs[1].data(), dx.data());
      node.accumulate(0, dx);
    }
    if (node.needs_grad(1)) {
      Tensor dw = empty_like(node.inputs[1].shape(), dy);
      if (cuda)
        cuda_ops().conv2d_backward_weight(sh, node.inputs[0].data(), dy.data(), dw.data(), cuda_ops().stream());
      else
        kernels::conv2d_backward_weight_cpu(sh, node.inputs[0].data(), dy.data(), dw.data());
      node.accumulate(1, dw);
    }
  });
  return y;
}

namespace {

// The training forward and backward of batch norm with each of `groups` equal slices of the batch
// normalized over its own statistics: the kernels on each slice, the running statistics from the
// first.
Tensor batch_norm_in_groups(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                            Tensor& running_var, const kernels::BatchNormParams& p, int groups) {
  const kernels::BatchNormShape whole = bn_shape(x);
  ELR_CHECK(groups > 0 && whole.n % groups == 0, "batch_norm: a batch of {} cannot be split into {} equal groups",
            whole.n, groups);
  const kernels::BatchNormShape sh{whole.n / groups, whole.c, whole.hw};
  const int64_t slice = int64_t(sh.n) * sh.c * sh.hw;
  const bool cuda = x.device().is_cuda();
  if (cuda)  // the CPU kernel checks this itself; the device kernel cannot throw
    ELR_CHECK(int64_t(sh.n) * sh.hw > 1,
              "batchnorm: training needs more than one value per channel (a group of input {} has n*h*w = 1)",
              x.str());
  Tensor y = empty_like(x.shape(), x);
  Tensor save_mean = empty_like({groups * int64_t(sh.c)}, x), save_invstd = empty_like({groups * int64_t(sh.c)}, x);
  for (int g = 0; g < groups; ++g) {
    const float* xg = x.data() + g * slice;
    float* yg = y.data() + g * slice;
    float* mean_g = save_mean.data() + g * sh.c;
    float* invstd_g = save_invstd.data() + g * sh.c;
    float* rm = g == 0 ? running_mean.data() : nullptr;
    float* rv = g == 0 ? running_var.data() : nullptr;
    if (cuda)
      cuda_ops().batchnorm_forward_train(sh, p, xg, gamma.data(), beta.data(), yg, mean_g, invstd_g, rm, rv,
                                         cuda_ops().stream());
    else
      kernels::batchnorm_forward_train_cpu(sh, p, xg, gamma.data(), beta.data(), yg, mean_g, invstd_g, rm, rv);
  }
  tape().record("batch_norm", {x, gamma, beta}, {y}, [sh, p, groups, slice, save_mean, save_invstd](Node& node) {
    Tensor dy = node.output_grad(0);
    Tensor dx = empty_like(node.inputs[0].shape(), dy);
    for (int g = 0; g < groups; ++g) {
      Tensor dgamma = empty_like(node.inputs[1].shape(), dy), dbeta = empty_like(node.inputs[2].shape(), dy);
      const float* xg = node.inputs[0].data() + g * slice;
      const float* yg = node.outputs[0].data() + g * slice;
      const float* dyg = dy.data() + g * slice;
      const float* mean_g = save_mean.data() + g * sh.c;
      const float* invstd_g = save_invstd.data() + g * sh.c;
      float* dxg = dx.data() + g * slice;
      if (dy.device().is_cuda())
        cuda_ops().batchnorm_backward(sh, p, xg, yg, dyg, node.inputs[1].data(), mean_g, invstd_g, dxg, dgamma.data(),
                                      dbeta.data(), cuda_ops().stream());
      else
        kernels::batchnorm_backward_cpu(sh, p, xg, yg, dyg, node.inputs[1].data(), mean_g, invstd_g, dxg,
                                        dgamma.data(), dbeta.data());
      node.accumulate(1, dgamma);
      node.accumulate(2, dbeta);
    }
    node.accumulate(0, dx);
  });
  return y;
}

// The training forward and backward of batch norm with statistics over every rank's batch (sync BN):
// the moments of each rank's batch, combined in rank order, normalize it (so every rank has the same
// mean, variance and running statistics), and the backward's sums are added over the ranks. dgamma
// and dbeta are this rank's part, like every other parameter's gradient before the all-reduce.
Tensor batch_norm_across_ranks(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                               Tensor& running_var, const kernels::BatchNormParams& p, Communicator& ranks) {
  ELR_CHECK(x.device().is_cpu(), "batch_norm: statistics across ranks (--sync-bn) run on the CPU only, not {}",
            x.device().str());
  const kernels::BatchNormShape sh = bn_shape(x);
  const size_t c = static_cast<size_t>(sh.c);
  std::vector<kernels::BatchNormMoments> moments(c), every_rank(c * static_cast<size_t>(ranks.size()));
  kernels::batchnorm_moments_cpu(sh, x.data(), moments.data());
  ranks.all_gather(moments.data(), c * sizeof(kernels::BatchNormMoments), every_rank.data());
  for (size_t ch = 0; ch < c; ++ch) {
    moments[ch] = every_rank[ch];
    for (size_t r = 1; r < static_cast<size_t>(ranks.size()); ++r)
      moments[ch] = kernels::combine_batchnorm_moments(moments[ch], every_rank[r * c + ch]);
  }
  Tensor y = empty_like(x.shape(), x);
  Tensor save_mean = empty_like({sh.c}, x), save_invstd = empty_like({sh.c}, x);
  kernels::batchnorm_forward_apply_cpu(sh, p, x.data(), gamma.data(), beta.data(), moments.data(), y.data(),
                                       save_mean.data(), save_invstd.data(), running_mean.data(), running_var.data());
  Communicator* comm = &ranks;
  tape().record("batch_norm", {x, gamma, beta}, {y}, [sh, p, save_mean, save_invstd, comm](Node& node) {
    Tensor dy = node.output_grad(0);
    Tensor dx = empty_like(node.inputs[0].shape(), dy);
    Tensor dgamma = empty_like(node.inputs[1].shape(), dy), dbeta = empty_like(node.inputs[2].shape(), dy);
    std::vector<kernels::BatchNormGradSums> sums(static_cast<size_t>(sh.c));
    kernels::batchnorm_backward_sums_cpu(sh, p, node.inputs[0].data(), node.outputs[0].data(), dy.data(),
                                         save_mean.data(), save_invstd.data(), dx.data(), sums.data(), dgamma.data(),
                                         dbeta.data());
    static_assert(sizeof(kernels::BatchNormGradSums) == 3 * sizeof(double), "the sums are summed as doubles");
    comm->sum(reinterpret_cast<double*>(sums.data()), 3 * sums.size());
    kernels::batchnorm_backward_dx_cpu(sh, p, node.inputs[0].data(), dy.data(), node.inputs[1].data(),
                                       save_mean.data(), save_invstd.data(), sums.data(), dx.data());
    node.accumulate(0, dx);
    node.accumulate(1, dgamma);
    node.accumulate(2, dbeta);
  });
  return y;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, const BatchNormOptions& opt) {
  const char* op = "batch_norm";
  require_f32(op, "input", x);
  require_ndim(op, "input", x, 4);
  const int64_t c = x.dim(1);
  for (const Tensor* t : std::initializer_list<const Tensor*>{&gamma, &beta, &running_mean, &running_var}) {
    require_f32(op, "parameter", *t);
    ELR_CHECK(t->ndim() == 1 && t->dim(0) == c, "batch_norm: input {} has {} channels but the layer has shape {}",
              shape_str(x.shape()), c, shape_str(t->shape()));
    require_same_device(op, x, *t);
  }
  const bool cuda = x.device().is_cuda();
  kernels::BatchNormShape sh = bn_shape(x);
  kernels::BatchNormParams p;
  p.momentum = opt.momentum;
  p.eps = opt.eps;
  p.relu = opt.relu;
  Tensor y = empty_like(x.shape(), x);
  if (!opt.training) {
    if (cuda)
      cuda_ops().batchnorm_forward_eval(sh, p, x.data(), gamma.data(), beta.data(), running_mean.data(),
                                        running_var.data(), y.data(), cuda_ops().stream());
    else
      kernels::batchnorm_forward_eval_cpu(sh, p, x.data(), gamma.data(), beta.data(), running_mean.data(),
                                          running_var.data(), y.data());
    tape().record("batch_norm(eval)", {x, gamma, beta}, {y}, nullptr);
    return y;
  }
  if (cuda) {
    // The CPU kernel checks this itself; the device kernel cannot throw.
    ELR_CHECK(int64_t(sh.n) * sh.hw > 1,
              "batchnorm: training needs more than one value per channel (input {} has n*h*w = 1)", x.str());
  }
  if (opt.ranks && opt.ranks->size() > 1)
    return batch_norm_across_ranks(x, gamma, beta, running_mean, running_var, p, *opt.ranks);
  if (opt.groups != 1) return batch_norm_in_groups(x, gamma, beta, running_mean, running_var, p, opt.groups);
  Tensor save_mean = empty_like({c}, x), save_invstd = empty_like({c}, x);
  if (cuda)
    cuda_ops().batchnorm_forward_train(sh, p, x.data(), gamma.data(), beta.data(), y.data(), save_mean.data(),
                                       save_invstd.data(), running_mean.data(), running_var.data(), cuda_ops().stream());
  else
    kernels::batchnorm_forward_train_cpu(sh, p, x.data(), gamma.data(), beta.data(), y.data(), save_mean.data(),
                                         save_invstd.data(), running_mean.data(), running_var.data());
  tape().record(op, {x, gamma, beta}, {y}, [sh, p, save_mean, save_invstd](Node& node) {
    Tensor dy = node.output_grad(0);
    Tensor dx = empty_like(node.inputs[0].shape(), dy);
    Tensor dgamma = empty_like(node.inputs[1].shape(), dy), dbeta = empty_like(node.inputs[2].shape(), dy);
    if (dy.device().is_cuda())
      cuda_ops().batchnorm_backward(sh, p, node.inputs[0].data(), node.outputs[0].data(), dy.data(),
                                    node.inputs[1].data(), save_mean.data(), save_invstd.data(), dx.data(),
                                    dgamma.data(), dbeta.data(), cuda_ops().stream());
    else
      kernels::batchnorm_backward_cpu(sh, p, node.inputs[0].data(), node.outputs[0].data(), dy.data(),
                                      node.inputs[1].data(), save_mean.data(), save_invstd.data(), dx.data(),
                                      dgamma.data(), dbeta.data());
    node.accumulate(0, dx);
    node.accumulate(1, dgamma);
    node.accumulate(2, dbeta);
  });
  return y;
}

Tensor relu(const Tensor& x) {
  require_f32("relu", "input", x);
  Tensor y = empty_like(x.shape(), x);
  if (x.device().is_cuda())
    cuda_ops().relu_forward(x.numel(), x.data(), y.data(), cuda_ops().stream());
  else
    kernels::relu_forward_cpu(x.numel(), x.data(), y.data());
  tape().record("relu", {x}, {y}, [](Node& node) {
    Tensor dx = empty_like(node.inputs[0].shape(), node.inputs[0]);
    if (dx.device().is_cuda())
      cuda_ops().relu_backward(dx.numel(), node.outputs[0].data(), node.output_grad(0).data(), dx.data(),
                               cuda_ops().stream());
    else
      kernels::relu_backward_cpu(dx.numel(), node.outputs[0].data(), node.output_grad(0).data(), dx.data());
    node.accumulate(0, dx);
  });
  return y;
}

Tensor add(const Tensor& a, const Tensor& b, bool relu) {
  require_f32("add", "first input", a);
  require_f32("add", "second input", b);
  ELR_CHECK(a.shape() == b.shape(), "add: shapes {} and {} differ", shape_str(a.shape()), shape_str(b.shape()));
  require_same_device("add", a, b);
  Tensor y = empty_like(a.shape(), a);
  if (a.device().is_cuda())
    cuda_ops().add_forward(a.numel(), relu, a.data(), b.data(), y.data(), cuda_ops().stream());
  else
    kernels::add_forward_cpu(a.numel(), relu, a.data(), b.data(), y.data());
  tape().record(relu ? "add_relu" : "add", {a, b}, {y}, [relu](Node& node) {
    Tensor da = empty_like(node.inputs[0].shape(), node.inputs[0]), db = empty_like(node.inputs[1].shape(), node.inputs[0]);
    if (da.device().is_cuda())
      cuda_ops().add_backward(da.numel(), relu, node.outputs[0].data(), node.output_grad(0).data(), da.data(),
                              db.data(), cuda_ops().stream());
    else
      kernels::add_backward_cpu(da.numel(), relu, node.outputs[0].data(), node.output_grad(0).data(), da.data(),
                                db.data());
    node.accumulate(0, da);
    node.accumulate(1, db);
  });
  return y;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const char* op = "linear";
  require_f32(op, "input", x);
  require_f32(op, "weight", w);
  require_ndim(op, "input", x, 2);
  require_ndim(op, "weight", w, 2);
  ELR_CHECK(x.dim(1) == w.dim(1), "linear: input {} has {} features but weight {} expects {}", shape_str(x.shape()),
            x.dim(1), shape_str(w.shape()), w.dim(1));
  if (b.defined()) {
    require_f32(op, "bias", b);
    ELR_CHECK(b.ndim() == 1 && b.dim(0) == w.dim(0), "linear: bias {} does not match weight {}",
              shape_str(b.shape()), shape_str(w.shape()));
  }
  require_same_device(op, x, w);
  if (b.defined()) require_same_device(op, x, b);
  kernels::LinearShape sh{static_cast<int>(x.dim(0)), static_cast<int>(x.dim(1)), static_cast<int>(w.dim(0))};
  Tensor y = empty_like({sh.n, sh.out}, x);
  if (x.device().is_cuda())
    cuda_ops().linear_forward(sh, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(), cuda_ops().stream());
  else
    kernels::linear_forward_cpu(sh, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data());
  std::vector<Tensor> inputs = {x, w};
  if (b.defined()) inputs.push_back(b);
  tape().record(op, inputs, {y}, [sh](Node& node) {
    const bool has_bias = node.inputs.size() == 3;
    const Tensor& x0 = node.inputs[0];
    Tensor dx = empty_like(x0.shape(), x0), dw = empty_like(node.inputs[1].shape(), x0);
    Tensor db = has_bias ? empty_like(node.inputs[2].shape(), x0) : Tensor();
    if (x0.device().is_cuda())
      cuda_ops().linear_backward(sh, x0.data(), node.inputs[1].data(), node.output_grad(0).data(), dx.data(),
                                 dw.data(), has_bias ? db.data() : nullptr, cuda_ops().stream());
    else
      kernels::linear_backward_cpu(sh, x0.data(), node.inputs[1].data(), node.output_grad(0).data(), dx.data(),
                                   dw.data(), has_bias ? db.data() : nullptr);
    node.accumulate(0, dx);
    node.accumulate(1, dw);
    if (has_bias) node.accumulate(2, db);
  });
  return y;
}

Tensor max_pool2x2(const Tensor& x) {
  require_f32("max_pool2x2", "input", x);
  require_ndim("max_pool2x2", "input", x, 4);
  kernels::PoolShape sh{static_cast<int>(x.dim(0)), static_cast<int>(x.dim(1)), static_cast<int>(x.dim(2)),
                        static_cast<int>(x.dim(3))};
  ELR_CHECK(sh.h >= 2 && sh.w >= 2, "max_pool2x2: input {} is smaller than the 2x2 window", shape_str(x.shape()));
  Tensor y = empty_like({sh.n, sh.c, sh.h / 2, sh.w / 2}, x);
  Tensor argmax = empty_like(y.shape(), x, DType::I32);
  if (x.device().is_cuda())
    cuda_ops().maxpool2x2_forward(sh, x.data(), y.data(), argmax.labels(), cuda_ops().stream());
  else
    kernels::maxpool2x2_forward_cpu(sh, x.data(), y.data(), argmax.labels());
  tape().record("max_pool2x2", {x}, {y}, [sh, argmax](Node& node) {
    Tensor dx = empty_like(node.inputs[0].shape(), node.inputs[0]);
    if (dx.device().is_cuda())
      cuda_ops().maxpool2x2_backward(sh, argmax.labels(), node.output_grad(0).data(), dx.data(), cuda_ops().stream());
    else
      kernels::maxpool2x2_backward_cpu(sh, argmax.labels(), node.output_grad(0).data(), dx.data());
    node.accumulate(0, dx);
  });
  return y;
}

Tensor max_pool3x3s2(const Tensor& x) {
  require_f32("max_pool3x3s2", "input", x);
  require_ndim("max_pool3x3s2", "input", x, 4);
  kernels::PoolShape sh{static_cast<int>(x.dim(0)), static_cast<int>(x.dim(1)), static_cast<int>(x.dim(2)),
                        static_cast<int>(x.dim(3))};
  Tensor y = empty_like({sh.n, sh.c, kernels::maxpool3x3s2_size(sh.h), kernels::maxpool3x3s2_size(sh.w)}, x);
  Tensor argmax = empty_like(y.shape(), x, DType::I32);
  if (x.device().is_cuda())
    cuda_ops().maxpool3x3s2_forward(sh, x.data(), y.data(), argmax.labels(), cuda_ops().stream());
  else
    kernels::maxpool3x3s2_forward_cpu(sh, x.data(), y.data(), argmax.labels());
  tape().record("max_pool3x3s2", {x}, {y}, [sh, argmax](Node& node) {
    Tensor dx = empty_like(node.inputs[0].shape(), node.inputs[0]);
    if (dx.device().is_cuda())
      cuda_ops().maxpool3x3s2_backward(sh, argmax.labels(), node.output_grad(0).data(), dx.data(),
                                       cuda_ops().stream());
    else
      kernels::maxpool3x3s2_backward_cpu(sh, argmax.labels(), node.output_grad(0).data(), dx.data());
    node.accumulate(0, dx);
  });
  return y;
}

Tensor global_avg_pool(const Tensor& x) {
  require_f32("global_avg_pool", "input", x);
  require_ndim("global_avg_pool", "input", x, 4);
  kernels::PoolShape sh{static_cast<int>(x.dim(0)), static_cast<int>(x.dim(1)), static_cast<int>(x.dim(2)),
                        static_cast<int>(x.dim(3))};
  Tensor y = empty_like({sh.n, sh.c}, x);
  if (x.device().is_cuda())
    cuda_ops().global_avgpool_forward(sh, x.data(), y.data(), cuda_ops().stream());
  else
    kernels::global_avgpool_forward_cpu(sh, x.data(), y.data());
  tape().record("global_avg_pool", {x}, {y}, [sh](Node& node) {
    Tensor dx = empty_like(node.inputs[0].shape(), node.inputs[0]);
    if (dx.device().is_cuda())
      cuda_ops().global_avgpool_backward(sh, node.output_grad(0).data(), dx.data(), cuda_ops().stream());
    else
      kernels::global_avgpool_backward_cpu(sh, node.output_grad(0).data(), dx.data());
    node.accumulate(0, dx);
  });
  return y;
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor y = x.reshape(shape);
  tape().record("reshape", {x}, {y}, [](Node& node) {
    node.accumulate(0, node.output_grad(0).reshape(node.inputs[0].shape()));
  });
  return y;
}

Tensor flatten(const Tensor& x) {
  ELR_CHECK(x.ndim() >= 1, "flatten: input {} has no batch dimension", x.str());
  return reshape(x, {x.dim(0), x.numel() / std::max<int64_t>(x.dim(0), 1)});
}

int64_t LossResult::correct_on_host() const {
  if (!correct_count.defined()) return correct;
  int64_t v = 0;
  backend_for(correct_count.device().type).copy_to_host(&v, correct_count.raw(), sizeof v);
  return v;
}

LossResult cross_entropy(const Tensor& logits, const Tensor& labels) {
  const char* op = "cross_entropy";
  require_f32(op, "logits", logits);
  require_ndim(op, "logits", logits, 2);
  ELR_CHECK(labels.defined() && labels.dtype() == DType::I32, "cross_entropy: labels must be i32");
  require_same_device(op, logits, labels);
  ELR_CHECK(labels.ndim() == 1 && labels.dim(0) == logits.dim(0),
            "cross_entropy: logits {} and labels {} disagree on the batch size", shape_str(logits.shape()),
            shape_str(labels.shape()));
  kernels::CrossEntropyShape sh{static_cast<int>(logits.dim(0)), static_cast<int>(logits.dim(1))};
  LossResult result;
  result.loss = empty_like({1}, logits);
  Tensor probs = empty_like(logits.shape(), logits);
  if (logits.device().is_cuda()) {
    result.correct_count = empty_like({1}, logits, DType::I64);
    cuda_ops().cross_entropy_forward(sh, logits.data(), labels.labels(), result.loss.data(), probs.data(),
                                     result.correct_count.i64(), cuda_ops().stream());
  } else {
    kernels::cross_entropy_forward_cpu(sh, logits.data(), labels.labels(), result.loss.data(), probs.data(),
                                       &result.correct);
  }
  tape().record(op, {logits}, {result.loss}, [sh, probs, labels](Node& node) {
    Tensor dlogits = empty_like(node.inputs[0].shape(), node.inputs[0]);
    // d(loss) is the tape's seed, 1, whenever the loss is the tape's root (the usual case): known on
    // the host, so a device step does not wait to read it.
    const Tensor dloss_grad = node.output_grad(0);
    const float dloss = tape().is_seed(dloss_grad) ? 1.0f : dloss_grad.to(Device::cpu()).data()[0];
    if (dlogits.device().is_cuda())
      cuda_ops().cross_entropy_backward(sh, probs.data(), labels.labels(), dloss, dlogits.data(), cuda_ops().stream());
    else
      kernels::cross_entropy_backward_cpu(sh, probs.data(), labels.labels(), dloss, dlogits.data());
    node.accumulate(0, dlogits);
  });
  return result;
}

}  // namespace elr::ops
