#include "kernels/optable/cuda_column.h"

#include <cuda_runtime_api.h>

#include "engine/cuda/check.h"
#include "engine/error.h"
#include "kernels/optable/ops.h"

namespace elr::kernels {

void run_cuda(const OpCase& c, const OpArgs& a) {
  auto f = [&](int i) { return a.at<float>(i); };
  const Stream s = a.stream;
  switch (c.op()) {
    case Op::Conv2dForward: return conv2d_forward_cuda(as<Conv2dForward>(c).shape, f(0), f(1), f(2), s);
    case Op::Conv2dBackwardData: return conv2d_backward_data_cuda(as<Conv2dBackwardData>(c).shape, f(0), f(1), f(2), s);
    case Op::Conv2dBackwardWeight:
      return conv2d_backward_weight_cuda(as<Conv2dBackwardWeight>(c).shape, f(0), f(1), f(2), a.workspace, s);
    case Op::BatchNormTrainForward: {
      const auto& b = as<BatchNormTrainForward>(c);
      return batchnorm_forward_train_cuda(b.shape, b.params, f(0), f(1), f(2), f(5), f(6), f(7), f(3), f(4),
                                          a.workspace, s);
    }
    case Op::BatchNormEvalForward: {
      const auto& b = as<BatchNormEvalForward>(c);
      return batchnorm_forward_eval_cuda(b.shape, b.params, f(0), f(1), f(2), f(3), f(4), f(5), s);
    }
    case Op::BatchNormBackward: {
      const auto& b = as<BatchNormBackward>(c);
      return batchnorm_backward_cuda(b.shape, b.params, f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8),
                                     a.workspace, s);
    }
    case Op::ReluForward: return relu_forward_cuda(as<ReluForward>(c).count, f(0), f(1), s);
    case Op::ReluBackward: return relu_backward_cuda(as<ReluBackward>(c).count, f(0), f(1), f(2), s);
    case Op::AddForward: {
      const auto& e = as<AddForward>(c);
      return add_forward_cuda(e.count, e.relu, f(0), f(1), f(2), s);
    }
    case Op::AddBackward: {
      const auto& e = as<AddBackward>(c);
      return add_backward_cuda(e.count, e.relu, f(0), f(1), f(2), f(3), s);
    }
    case Op::LinearForward: return linear_forward_cuda(as<LinearForward>(c).shape, f(0), f(1), f(2), f(3), s);
    case Op::LinearBackward:
      return linear_backward_cuda(as<LinearBackward>(c).shape, f(0), f(1), f(2), f(3), f(4), f(5), a.workspace, s);
    case Op::MaxPoolForward:
      return maxpool2x2_forward_cuda(as<MaxPoolForward>(c).shape, f(0), f(1), a.at<int32_t>(2), s);
    case Op::MaxPoolBackward:
      return maxpool2x2_backward_cuda(as<MaxPoolBackward>(c).shape, a.at<int32_t>(0), f(1), f(2), s);
    case Op::MaxPool3x3s2Forward:
      return maxpool3x3s2_forward_cuda(as<MaxPool3x3s2Forward>(c).shape, f(0), f(1), a.at<int32_t>(2), s);
    case Op::MaxPool3x3s2Backward:
      return maxpool3x3s2_backward_cuda(as<MaxPool3x3s2Backward>(c).shape, a.at<int32_t>(0), f(1), f(2), s);
    case Op::AvgPoolForward: return global_avgpool_forward_cuda(as<AvgPoolForward>(c).shape, f(0), f(1), s);
    case Op::AvgPoolBackward: return global_avgpool_backward_cuda(as<AvgPoolBackward>(c).shape, f(0), f(1), s);
    case Op::CrossEntropyForward:
      return cross_entropy_forward_cuda(as<CrossEntropyForward>(c).shape, f(0), a.at<int32_t>(1), f(2), f(3),
                                        a.at<int64_t>(4), a.workspace, s);
    case Op::CrossEntropyBackward:  // dloss is a host scalar (on_host)
      return cross_entropy_backward_cuda(as<CrossEntropyBackward>(c).shape, f(0), a.at<int32_t>(1), *f(2), f(3), s);
    case Op::TensorStats: {
      const auto& t = as<TensorStatsCase>(c);
      return tensor_stats_cuda(*a.tensor_list, a.at<TensorStats>(t.momentum_buffers ? 3 : 2), s);
    }
    case Op::SgdUpdate: {
      const auto& t = as<SgdCase>(c);
      return sgd_update_cuda(*a.tensor_list, t.params, t.per_tensor_lr ? a.at<double>(t.lrs_index()) : nullptr,
                             a.at<double>(t.dw2_index()), s);
    }
  }
  ELR_FAIL("run_cuda: {} has no CUDA entry", c.id());
}

size_t cuda_workspace_bytes(const OpCase& c) {
  switch (c.op()) {
    case Op::Conv2dBackwardWeight: return conv2d_backward_weight_workspace_bytes(as<Conv2dBackwardWeight>(c).shape);
    case Op::LinearBackward: return linear_backward_workspace_bytes(as<LinearBackward>(c).shape);
    case Op::BatchNormTrainForward: return batchnorm_workspace_bytes(as<BatchNormTrainForward>(c).shape);
    case Op::BatchNormBackward: return batchnorm_workspace_bytes(as<BatchNormBackward>(c).shape);
    case Op::CrossEntropyForward: return cross_entropy_forward_workspace_bytes(as<CrossEntropyForward>(c).shape);
    default: return 0;
  }
}

namespace {

// The optimizer cases' tensors, back to back in the w, g (and v) buffers, as a multi-tensor list.
bool list_descs(const OpCase& c, const OpArgs& a, std::vector<MultiTensorDesc>& descs) {
  const TensorListCase* list = nullptr;
  bool momentum = false;
  if (c.op() == Op::TensorStats) {
    list = &as<TensorStatsCase>(c);
    momentum = as<TensorStatsCase>(c).momentum_buffers;
  } else if (c.op() == Op::SgdUpdate) {
    list = &as<SgdCase>(c);
    momentum = as<SgdCase>(c).momentum();
  } else {
    return false;
  }
  for (size_t t = 0; t < list->sizes.size(); ++t) {
    const int64_t at = list->offsets[t];
    descs.push_back({a.at<float>(0) + at, a.at<float>(1) + at, momentum ? a.at<float>(2) + at : nullptr,
                     list->sizes[t]});
  }
  return true;
}

}  // namespace

DeviceRun::DeviceRun(const OpCase& c, const std::vector<Values>& inputs, Stream stream) : specs_(c.tensors()) {
  args_.stream = stream;
  try {
    for (const TensorSpec& s : specs_) {
      const size_t bytes = size_t(s.count()) * element_bytes(s.dtype, false);
      void* p = nullptr;
      if (s.on_host) {
        host_.emplace_back(bytes / sizeof(double) + 1);
        p = host_.back().data();
      } else {
        ELR_CUDA_CHECK(cudaMalloc(&p, bytes > 0 ? bytes : 1));
      }
      args_.data.push_back(p);
    }
    args_.workspace.bytes = cuda_workspace_bytes(c);
    if (args_.workspace.bytes > 0) ELR_CUDA_CHECK(cudaMalloc(&workspace_, args_.workspace.bytes));
    args_.workspace.data = workspace_;
    std::vector<MultiTensorDesc> descs;
    if (list_descs(c, args_, descs)) {
      list_ = make_multi_tensor_list(descs.data(), static_cast<int>(descs.size()));
      args_.tensor_list = &list_;
    }
    reset(inputs);
  } catch (...) {
    release();
    throw;
  }
}

DeviceRun::~DeviceRun() { release(); }

void DeviceRun::release() {
  if (args_.tensor_list) free_multi_tensor_list(list_);
  args_.tensor_list = nullptr;
  for (size_t i = 0; i < args_.data.size(); ++i)
    if (!specs_[i].on_host) cudaFree(args_.data[i]);
  args_.data.clear();
  if (workspace_) cudaFree(workspace_);
  workspace_ = nullptr;
}

void DeviceRun::reset(const std::vector<Values>& inputs) {
  ELR_CHECK(inputs.size() == specs_.size(), "DeviceRun: {} input entries for {} tensors", inputs.size(),
            specs_.size());
  ELR_CUDA_CHECK(cudaStreamSynchronize(args_.stream));
  for (size_t i = 0; i < specs_.size(); ++i) {
    const TensorSpec& s = specs_[i];
    const size_t bytes = size_t(s.count()) * element_bytes(s.dtype, false);
    if (s.role == Role::Output) {
      if (bytes > 0) ELR_CUDA_CHECK(cudaMemsetAsync(args_.data[i], 0xff, bytes, args_.stream));  // NaN, -1
      continue;
    }
    ELR_CHECK(int64_t(inputs[i].size()) == s.count(), "DeviceRun: input '{}' has {} values, the tensor {}", s.name,
              inputs[i].size(), s.count());
    if (s.on_host) {
      pack_values(inputs[i], s.dtype, false, args_.data[i]);
      continue;
    }
    std::vector<double> staging(bytes / sizeof(double) + 1);
    pack_values(inputs[i], s.dtype, false, staging.data());
    if (bytes > 0) ELR_CUDA_CHECK(cudaMemcpy(args_.data[i], staging.data(), bytes, cudaMemcpyHostToDevice));
  }
}

std::vector<Values> DeviceRun::results() const {
  ELR_CUDA_CHECK(cudaStreamSynchronize(args_.stream));
  std::vector<Values> out(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    const TensorSpec& s = specs_[i];
    if (!s.written()) continue;
    const size_t bytes = size_t(s.count()) * element_bytes(s.dtype, false);
    std::vector<double> staging(bytes / sizeof(double) + 1);
    if (bytes > 0) ELR_CUDA_CHECK(cudaMemcpy(staging.data(), args_.data[i], bytes, cudaMemcpyDeviceToHost));
    out[i] = unpack_values(staging.data(), s.dtype, false, s.count());
  }
  return out;
}

std::vector<Values> run_on_device(const OpCase& c, const OpEntry& entry, const std::vector<Values>& inputs,
                                  Stream stream) {
  DeviceRun run(c, inputs, stream);
  entry(c, run.args());
  return run.results();
}

}  // namespace elr::kernels
