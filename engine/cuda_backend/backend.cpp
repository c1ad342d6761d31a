#include "engine/cuda_backend/backend.h"

#include <memory>

#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/graph.h"
#include "engine/cuda/runtime.h"
#include "engine/device.h"
#include "engine/device_ops.h"
#ifdef ELR_WITH_NCCL
#include "engine/cuda_backend/nccl_collectives.h"
#endif

namespace elr::cuda_backend {

namespace {

cuda::Stream& engine_stream() {
  static cuda::Stream stream;
  return stream;
}

kernels::Stream current_stream() { return engine_stream().get(); }
void synchronize() { engine_stream().synchronize(); }

// Every copy and memset is ordered on the engine stream, after the kernels issued before it.
class CudaMemory final : public DeviceBackend {
 public:
  void* allocate(size_t bytes) override { return cuda::device_allocator().allocate(bytes); }
  void deallocate(void* ptr, size_t) override { cuda::device_allocator().deallocate(ptr); }
  void memset_zero(void* ptr, size_t bytes) override {
    ELR_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, current_stream()));
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    cuda::copy_to_host(dst, src, bytes, current_stream());
  }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    cuda::copy_to_device(dst, src, bytes, current_stream());
    synchronize();  // the host buffer may be freed as soon as this returns
  }
  void copy_within(void* dst, const void* src, size_t bytes) override {
    cuda::copy_on_device(dst, src, bytes, current_stream());
  }
  void fill(float* ptr, int64_t count, float value) override {
    kernels::fill_cuda(count, value, ptr, current_stream());
  }
};

// ---- the kernels that take a workspace (split-K GEMM tiles, BN and loss partials) ---------------
// The workspace comes from the caching allocator: during a CUDA-graph capture from the capture's
// private pool (no cudaMalloc), and the graph replays into the same block. It is freed as soon as
// the launches are issued: the allocator hands blocks out in program order, which is safe while
// all work runs on the one engine stream.
class ScopedWorkspace {
 public:
  explicit ScopedWorkspace(size_t bytes) {
    if (bytes > 0) workspace_ = {cuda::device_allocator().allocate(bytes), bytes};
  }
  ~ScopedWorkspace() { cuda::device_allocator().deallocate(workspace_.data); }
  ScopedWorkspace(const ScopedWorkspace&) = delete;
  ScopedWorkspace& operator=(const ScopedWorkspace&) = delete;
  kernels::Workspace get() const { return workspace_; }

 private:
  kernels::Workspace workspace_;
};

void conv2d_backward_weight(const kernels::Conv2dShape& sh, const float* x, const float* dy, float* dw,
                            kernels::Stream stream) {
  const ScopedWorkspace workspace(kernels::conv2d_backward_weight_workspace_bytes(sh));
  kernels::conv2d_backward_weight_cuda(sh, x, dy, dw, workspace.get(), stream);
}

void linear_backward(const kernels::LinearShape& sh, const float* x, const float* w, const float* dy, float* dx,
                     float* dw, float* db, kernels::Stream stream) {
  const ScopedWorkspace workspace(dw ? kernels::linear_backward_workspace_bytes(sh) : 0);
  kernels::linear_backward_cuda(sh, x, w, dy, dx, dw, db, workspace.get(), stream);
}

void batchnorm_forward_train(const kernels::BatchNormShape& sh, const kernels::BatchNormParams& p, const float* x,
                             const float* gamma, const float* beta, float* y, float* save_mean, float* save_invstd,
                             float* running_mean, float* running_var, kernels::Stream stream) {
  const ScopedWorkspace workspace(kernels::batchnorm_workspace_bytes(sh));
  kernels::batchnorm_forward_train_cuda(sh, p, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var,
                                        workspace.get(), stream);
}

void batchnorm_backward(const kernels::BatchNormShape& sh, const kernels::BatchNormParams& p, const float* x,
                        const float* y, const float* dy, const float* gamma, const float* save_mean,
                        const float* save_invstd, float* dx, float* dgamma, float* dbeta, kernels::Stream stream) {
  const ScopedWorkspace workspace(kernels::batchnorm_workspace_bytes(sh));
  kernels::batchnorm_backward_cuda(sh, p, x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, workspace.get(),
                                   stream);
}

void cross_entropy_forward(const kernels::CrossEntropyShape& sh, const float* logits, const int32_t* labels,
                           float* loss, float* probs, int64_t* correct, kernels::Stream stream) {
  const ScopedWorkspace workspace(kernels::cross_entropy_forward_workspace_bytes(sh));
  kernels::cross_entropy_forward_cuda(sh, logits, labels, loss, probs, correct, workspace.get(), stream);
}

// ---- runtime services of CudaOps ----------------------------------------------------------------
void* alloc_pinned(size_t bytes) {
  void* p = nullptr;
  ELR_CUDA_CHECK(cudaMallocHost(&p, bytes));
  return p;
}
void free_pinned(void* p) { cudaFreeHost(p); }
void copy_to_device_async(void* dst, const void* src, size_t bytes) {
  ELR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, current_stream()));
}
void copy_to_host_async(void* dst, const void* src, size_t bytes) {
  ELR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, current_stream()));
}
void* event_create() {
  cudaEvent_t e = nullptr;
  ELR_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}
void event_record(void* e) { ELR_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(e), current_stream())); }
void event_synchronize(void* e) { ELR_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(e))); }
void event_destroy(void* e) { cudaEventDestroy(static_cast<cudaEvent_t>(e)); }
void begin_capture() { cuda::begin_capture(current_stream()); }
void* end_capture() { return cuda::end_capture(current_stream()); }
void abort_capture() { cuda::abort_capture(current_stream()); }
void launch_graph(void* g) { static_cast<const cuda::Graph*>(g)->launch(current_stream()); }
void destroy_graph(void* g) { delete static_cast<cuda::Graph*>(g); }

CudaOps make_table() {
  using namespace kernels;
  CudaOps t{};
  t.stream = &current_stream;
  t.synchronize = &synchronize;
  t.conv2d_forward = &conv2d_forward_cuda;
  t.conv2d_backward_data = &conv2d_backward_data_cuda;
  t.conv2d_backward_weight = &conv2d_backward_weight;
  t.linear_forward = &linear_forward_cuda;
  t.linear_backward = &linear_backward;
  t.batchnorm_forward_train = &batchnorm_forward_train;
  t.batchnorm_forward_eval = &batchnorm_forward_eval_cuda;
  t.batchnorm_backward = &batchnorm_backward;
  t.relu_forward = &relu_forward_cuda;
  t.relu_backward = &relu_backward_cuda;
  t.add_forward = &add_forward_cuda;
  t.add_backward = &add_backward_cuda;
  t.maxpool2x2_forward = &maxpool2x2_forward_cuda;
  t.maxpool2x2_backward = &maxpool2x2_backward_cuda;
  t.maxpool3x3s2_forward = &maxpool3x3s2_forward_cuda;
  t.maxpool3x3s2_backward = &maxpool3x3s2_backward_cuda;
  t.global_avgpool_forward = &global_avgpool_forward_cuda;
  t.global_avgpool_backward = &global_avgpool_backward_cuda;
  t.cross_entropy_forward = &cross_entropy_forward;
  t.cross_entropy_backward = &cross_entropy_backward_cuda;
  t.make_multi_tensor_list = &make_multi_tensor_list;
  t.free_multi_tensor_list = &free_multi_tensor_list;
  t.tensor_stats = &tensor_stats_cuda;
  t.sgd_update = &sgd_update_cuda;
  t.lr_control = &lr_control_cuda;
  t.step_record = &step_record_cuda;
  t.fill = &fill_cuda;
  t.set_conv_tf32 = &set_cuda_conv_tf32;
  t.alloc_pinned = &alloc_pinned;
  t.free_pinned = &free_pinned;
  t.copy_to_device_async = &copy_to_device_async;
  t.copy_to_host_async = &copy_to_host_async;
  t.event_create = &event_create;
  t.event_record = &event_record;
  t.event_synchronize = &event_synchronize;
  t.event_destroy = &event_destroy;
  t.begin_capture = &begin_capture;
  t.end_capture = &end_capture;
  t.abort_capture = &abort_capture;
  t.launch_graph = &launch_graph;
  t.destroy_graph = &destroy_graph;
  return t;
}

}  // namespace

bool start(std::string* why_not) {
  static bool started = false;
  if (started) return true;
  if (cuda::device_count() == 0) {
    if (why_not) *why_not = cuda::no_device_reason();
    return false;
  }
  static CudaMemory memory;
  static const CudaOps table = make_table();
  register_backend(DeviceType::CUDA, &memory);
  register_cuda_ops(&table);
#ifdef ELR_WITH_NCCL
  register_device_collectives(&make_nccl_collectives);
#endif
  started = true;
  return true;
}

}  // namespace elr::cuda_backend
