// Error checks for CUDA, cuBLAS and cuDNN calls: a failing call throws elr::Error naming the call,
// its file:line and the library's error string. The cuBLAS/cuDNN macros expand only where their
// headers are included, so this header needs none of them.
#pragma once
#include <string>

namespace elr::cuda {

[[noreturn]] void throw_api_error(const char* library, const char* call, const char* file, int line,
                                  int code, const std::string& message);

}  // namespace elr::cuda

#define ELR_CUDA_CHECK(call)                                                                    \
  do {                                                                                          \
    const cudaError_t elr_status_ = (call);                                                     \
    if (elr_status_ != cudaSuccess)                                                             \
      ::elr::cuda::throw_api_error("CUDA", #call, __FILE__, __LINE__, int(elr_status_),         \
                                   ::std::string(cudaGetErrorName(elr_status_)) + ": " +        \
                                       cudaGetErrorString(elr_status_));                        \
  } while (0)

#define ELR_CUBLAS_CHECK(call)                                                                  \
  do {                                                                                          \
    const cublasStatus_t elr_status_ = (call);                                                  \
    if (elr_status_ != CUBLAS_STATUS_SUCCESS)                                                   \
      ::elr::cuda::throw_api_error("cuBLAS", #call, __FILE__, __LINE__, int(elr_status_),       \
                                   cublasGetStatusString(elr_status_));                         \
  } while (0)

#define ELR_CUDNN_CHECK(call)                                                                   \
  do {                                                                                          \
    const cudnnStatus_t elr_status_ = (call);                                                   \
    if (elr_status_ != CUDNN_STATUS_SUCCESS)                                                    \
      ::elr::cuda::throw_api_error("cuDNN", #call, __FILE__, __LINE__, int(elr_status_),        \
                                   cudnnGetErrorString(elr_status_));                           \
  } while (0)
