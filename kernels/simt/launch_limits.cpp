#include "kernels/simt/launch_limits.h"

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "kernels/simt/executable.h"

namespace elr::simt {
namespace {

constexpr size_t kDefaultSharedLimit = 48 * 1024;  // without opt-in; also the static maximum
constexpr size_t kOptInSharedLimit = 227 * 1024;   // sm_90's sharedMemPerBlockOptin

std::mutex g_mutex;
std::map<const void*, size_t> g_max_dynamic_shared;  // raised by cudaFuncSetAttribute

}  // namespace

bool set_max_dynamic_shared(const void* kernel, int bytes) {
  if (bytes < 0 || size_t(bytes) + kernel_info(kernel).static_shared_bytes > kOptInSharedLimit) return false;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_max_dynamic_shared[kernel] = size_t(bytes);
  return true;
}

size_t max_dynamic_shared(const void* kernel) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_max_dynamic_shared.find(kernel);
    if (it != g_max_dynamic_shared.end()) return it->second;
  }
  const size_t static_bytes = kernel_info(kernel).static_shared_bytes;
  return static_bytes < kDefaultSharedLimit ? kDefaultSharedLimit - static_bytes : 0;
}

std::string launch_limits_problem(dim3 grid, dim3 block, size_t dynamic_bytes, const void* kernel, cudaError_t* error) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  *error = cudaErrorInvalidConfiguration;
  if (threads > 1024) return fmt::format("{} threads per block, more than 1024", threads);
  if (threads == 0 || block.z > 64) return "block dimensions must be 1 to 1024 in x and y, 1 to 64 in z";
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    return "grid dimensions must be 1 to 2^31-1 in x, 1 to 65535 in y and z";
  if (!kernel) return "";
  const KernelInfo& info = kernel_info(kernel);
  *error = cudaErrorLaunchOutOfResources;
  if (info.max_threads > 0 && threads > unsigned(info.max_threads))
    return fmt::format("{} threads per block, more than its __launch_bounds__({})", threads, info.max_threads);
  *error = cudaErrorInvalidValue;
  if (info.static_shared_bytes > kDefaultSharedLimit)
    return fmt::format("{} bytes of static __shared__ memory, more than 48 KB (ptxas rejects such a kernel; only "
                       "dynamic shared memory can go further, with cudaFuncSetAttribute)",
                       info.static_shared_bytes);
  const size_t max_dynamic = max_dynamic_shared(kernel);
  if (dynamic_bytes <= max_dynamic) return "";
  bool raised;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    raised = g_max_dynamic_shared.count(kernel) > 0;
  }
  return fmt::format("{} bytes of dynamic shared memory (and {} static), more than the {} allowed{}", dynamic_bytes,
                     info.static_shared_bytes, max_dynamic,
                     raised ? " by its cudaFuncAttributeMaxDynamicSharedMemorySize"
                            : " without opting in (cudaFuncSetAttribute with "
                              "cudaFuncAttributeMaxDynamicSharedMemorySize, up to 227 KB in all)");
}

}  // namespace elr::simt
