// The kernels of a non-CPU device, reached through a table the device's backend library fills in
// when it starts (engine/cuda_backend), so the engine itself links no CUDA code. The signatures
// are those of kernels/kernels.h's CUDA entry points, less the workspace of the conv/GEMM weight
// gradients, the BN training forward and backward and the cross-entropy forward: the backend
// supplies it.
#pragma once
#include "kernels/kernels.h"

namespace elr {

struct CudaOps {
  kernels::Stream (*stream)();  // the stream every op of the engine runs on
  void (*synchronize)();        // waits for that stream

  decltype(&kernels::conv2d_forward_cuda) conv2d_forward;
  decltype(&kernels::conv2d_backward_data_cuda) conv2d_backward_data;
  void (*conv2d_backward_weight)(const kernels::Conv2dShape& sh, const float* x, const float* dy, float* dw,
                                 kernels::Stream stream);
  decltype(&kernels::linear_forward_cuda) linear_forward;
  void (*linear_backward)(const kernels::LinearShape& sh, const float* x, const float* w, const float* dy, float* dx,
                          float* dw, float* db, kernels::Stream stream);
  void (*batchnorm_forward_train)(const kernels::BatchNormShape& sh, const kernels::BatchNormParams& p,
                                  const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                                  float* save_invstd, float* running_mean, float* running_var, kernels::Stream stream);
  decltype(&kernels::batchnorm_forward_eval_cuda) batchnorm_forward_eval;
  void (*batchnorm_backward)(const kernels::BatchNormShape& sh, const kernels::BatchNormParams& p, const float* x,
                             const float* y, const float* dy, const float* gamma, const float* save_mean,
                             const float* save_invstd, float* dx, float* dgamma, float* dbeta, kernels::Stream stream);
  decltype(&kernels::relu_forward_cuda) relu_forward;
  decltype(&kernels::relu_backward_cuda) relu_backward;
  decltype(&kernels::add_forward_cuda) add_forward;
  decltype(&kernels::add_backward_cuda) add_backward;
  decltype(&kernels::maxpool2x2_forward_cuda) maxpool2x2_forward;
  decltype(&kernels::maxpool2x2_backward_cuda) maxpool2x2_backward;
  decltype(&kernels::maxpool3x3s2_forward_cuda) maxpool3x3s2_forward;
  decltype(&kernels::maxpool3x3s2_backward_cuda) maxpool3x3s2_backward;
  decltype(&kernels::global_avgpool_forward_cuda) global_avgpool_forward;
  decltype(&kernels::global_avgpool_backward_cuda) global_avgpool_backward;
  void (*cross_entropy_forward)(const kernels::CrossEntropyShape& sh, const float* logits, const int32_t* labels,
                                float* loss, float* probs, int64_t* correct, kernels::Stream stream);
  decltype(&kernels::cross_entropy_backward_cuda) cross_entropy_backward;
  decltype(&kernels::make_multi_tensor_list) make_multi_tensor_list;
  decltype(&kernels::free_multi_tensor_list) free_multi_tensor_list;
  decltype(&kernels::tensor_stats_cuda) tensor_stats;
  decltype(&kernels::sgd_update_cuda) sgd_update;
  decltype(&kernels::lr_control_cuda) lr_control;
  decltype(&kernels::step_record_cuda) step_record;
  decltype(&kernels::fill_cuda) fill;
  decltype(&kernels::set_cuda_conv_tf32) set_conv_tf32;  // conv/linear GEMMs on TF32 tensor cores

  // ---- runtime services for a step that never waits for the device (optim/device_train_step)
  // Copies and events are ordered on the engine stream; pinned memory is page-locked host memory.
  void* (*alloc_pinned)(size_t bytes);
  void (*free_pinned)(void* ptr);
  void (*copy_to_device_async)(void* dst, const void* pinned_src, size_t bytes);
  void (*copy_to_host_async)(void* pinned_dst, const void* src, size_t bytes);
  void* (*event_create)();
  void (*event_record)(void* event);
  void (*event_synchronize)(void* event);  // waits on the host until the event has happened
  void (*event_destroy)(void* event);
  // CUDA graphs of the engine stream. begin_capture opens a private allocator pool (no cudaMalloc
  // while capturing); end_capture returns the instantiated graph, or throws after ending the
  // capture and releasing its pool; abort_capture ends a capture after an error.
  void (*begin_capture)();
  void* (*end_capture)();
  void (*abort_capture)();
  void (*launch_graph)(void* graph);
  void (*destroy_graph)(void* graph);  // and releases the graph's pool
};

void register_cuda_ops(const CudaOps* ops);
// The table; throws a clear error when no CUDA backend has been started.
const CudaOps& cuda_ops();
bool cuda_ops_available();

}  // namespace elr
