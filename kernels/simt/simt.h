// The CPU execution layer's header. It is force-included (g++ -include) into every CUDA source
// built as C++ so the same .cu file compiles and runs on the CPU: one fiber per CUDA thread, a
// block on one OS thread, blocks spread over a small thread pool. See docs/kernels-on-cpu.md for
// the rules kernels follow. The device side is device_api.h (run by scheduler.cpp); this adds the
// launch and the runtime API's host-side pieces (runtime_api.cpp).
#pragma once
#define ELR_SIMT 1

#include "kernels/simt/device_api.h"

namespace elr::simt {

// ---- launches ----------------------------------------------------------------------------------
template <class... P>
class KernelCall final : public LaunchClosure {
 public:
  template <class... A>
  KernelCall(void (*kernel)(P...), A&&... args) : kernel_(kernel), args_(std::forward<A>(args)...) {}
  void run_thread() const override { std::apply(kernel_, args_); }

 private:
  void (*kernel_)(P...);
  std::tuple<std::decay_t<P>...> args_;
};

void submit_launch(std::shared_ptr<const LaunchClosure> call, dim3 grid, dim3 block,
                   size_t shmem_bytes, cudaStream_t stream, const LaunchSite& site);

template <class... P, class... A>
void launch(void (*kernel)(P...), const char* name, dim3 grid, dim3 block, size_t shmem_bytes,
            cudaStream_t stream, const char* file, int line, A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
  submit_launch(std::make_shared<KernelCall<P...>>(kernel, std::forward<A>(args)...), grid, block,
                shmem_bytes, stream, LaunchSite{name, file, line, reinterpret_cast<const void*>(kernel)});
}

}  // namespace elr::simt

// ---- pieces of <cuda_runtime.h> that host code next to kernels uses ---------------------------
template <class T>
inline cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return ::cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
template <class T>
inline cudaError_t cudaMallocHost(T** ptr, size_t bytes) {
  return ::cudaMallocHost(reinterpret_cast<void**>(ptr), bytes);
}
// The C++ forms of cudaFuncSetAttribute / cudaFuncGetAttributes (runtime_api.cpp has the C ones):
// cudaFuncAttributeMaxDynamicSharedMemorySize raises the kernel's dynamic shared-memory limit.
template <class T>
inline cudaError_t cudaFuncSetAttribute(T* kernel, cudaFuncAttribute attr, int value) {
  return ::cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attr, value);
}
template <class T>
inline cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, T* kernel) {
  return ::cudaFuncGetAttributes(attr, reinterpret_cast<const void*>(kernel));
}
inline cudaError_t cudaEventCreate(cudaEvent_t* event, unsigned flags) {
  return cudaEventCreateWithFlags(event, flags);
}
