// The CPU execution layer's device side: what kernel code sees (thread indices, barriers, warp
// operations, atomics, intrinsics) and what a launch is. The scheduler (scheduler.cpp) implements
// it; it knows nothing of streams or the runtime API (simt.h, runtime_api.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

// dim3, float4, make_float4 ... from the toolkit's host-compilable headers. vector_functions.h
// pulls in cuda_runtime_api.h, so the runtime functions below are the toolkit's declarations.
#include <vector_types.h>
#include <vector_functions.h>

// <cuda_runtime.h> expects nvcc; the pieces kernels use from it are provided here instead.
#define __CUDA_RUNTIME_H__

// Attribute macros from crt/host_defines.h expand to attributes g++ rejects or warns about.
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __noinline__
#undef __shared__
#undef __constant__
#undef __managed__
#undef __launch_bounds__
#undef __grid_constant__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
// Static shared memory: all threads of a block run on one OS thread and blocks on one OS thread
// run one after another, so a function-level thread_local is exactly "per block". The scheduler
// finds a kernel's __shared__ variables in the symbol table (kernels/simt/executable.h) and refills
// them with poison at the start of every block.
#define __shared__ static thread_local
#define __constant__
#define __managed__
// __launch_bounds__(N, ...) becomes N one-byte NOPs at the kernel's entry (GCC's
// patchable_function_entry takes template-dependent values), which the launch counts: a launch with
// more threads than N fails as on the GPU. The NOPs run once per thread, at no measurable cost.
#define __launch_bounds__(...) ELR_SIMT_LAUNCH_BOUNDS_(__VA_ARGS__, 0)
#define ELR_SIMT_LAUNCH_BOUNDS_(max_threads, ...) __attribute__((patchable_function_entry(max_threads, 0)))
#define __grid_constant__

constexpr int warpSize = 32;

// Set by the scheduler before each CUDA thread runs or resumes. Inline and constant-initialized,
// so kernels read them straight from TLS with no init wrapper (which UBSan mis-checks).
inline thread_local uint3 threadIdx{};
inline thread_local uint3 blockIdx{};
inline thread_local dim3 blockDim{};
inline thread_local dim3 gridDim{};

namespace elr::simt {

enum class WarpOp : int { Shfl, ShflUp, ShflDown, ShflXor, Ballot, All, Any, SyncWarp };
enum class BarrierOp : int { Plain, Count, And, Or };

// Implemented by the scheduler (kernels/simt/scheduler.cpp). Call sites are recorded for
// diagnostics; they are never inlined, so kernels reload threadIdx after them.
int block_barrier(BarrierOp op, int predicate, const char* file, int line);
uint64_t warp_exchange(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                       const char* file, int line);
unsigned active_lanes();
void* dynamic_shared_memory();

template <class T>
inline uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value,
                "warp shuffles move values of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <class T>
inline T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

// ---- launches ----------------------------------------------------------------------------------
struct LaunchSite {
  const char* kernel;
  const char* file;
  int line;
  const void* address = nullptr;  // the kernel function (its symbol, shared memory, launch bounds)
};

// One launch's kernel and arguments, shared by every CUDA thread (and kept by graph capture).
class LaunchClosure {
 public:
  virtual ~LaunchClosure() = default;
  virtual void run_thread() const = 0;
};

}  // namespace elr::simt

// ---- barriers, warp votes and shuffles -------------------------------------------------------
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  elr::simt::block_barrier(elr::simt::BarrierOp::Plain, 0, file, line);
}
inline int __syncthreads_count(int pred, const char* file = __builtin_FILE(),
                               int line = __builtin_LINE()) {
  return elr::simt::block_barrier(elr::simt::BarrierOp::Count, pred != 0, file, line);
}
inline int __syncthreads_and(int pred, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  return elr::simt::block_barrier(elr::simt::BarrierOp::And, pred != 0, file, line);
}
inline int __syncthreads_or(int pred, const char* file = __builtin_FILE(),
                            int line = __builtin_LINE()) {
  return elr::simt::block_barrier(elr::simt::BarrierOp::Or, pred != 0, file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  elr::simt::warp_exchange(elr::simt::WarpOp::SyncWarp, mask, 0, 0, 32, file, line);
}
inline unsigned __activemask() { return elr::simt::active_lanes(); }

template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using namespace elr::simt;
  return from_bits<T>(warp_exchange(WarpOp::Shfl, mask, to_bits(var), src_lane, width, file, line));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                        const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using namespace elr::simt;
  return from_bits<T>(
      warp_exchange(WarpOp::ShflUp, mask, to_bits(var), int(delta), width, file, line));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using namespace elr::simt;
  return from_bits<T>(
      warp_exchange(WarpOp::ShflDown, mask, to_bits(var), int(delta), width, file, line));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using namespace elr::simt;
  return from_bits<T>(
      warp_exchange(WarpOp::ShflXor, mask, to_bits(var), lane_mask, width, file, line));
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  using namespace elr::simt;
  return unsigned(warp_exchange(WarpOp::Ballot, mask, pred != 0, 0, 32, file, line));
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  using namespace elr::simt;
  return int(warp_exchange(WarpOp::All, mask, pred != 0, 0, 32, file, line));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  using namespace elr::simt;
  return int(warp_exchange(WarpOp::Any, mask, pred != 0, 0, 32, file, line));
}

// ---- atomics (blocks run on several OS threads, so these are real atomics) ---------------------
namespace elr::simt {
template <class T>
struct same {
  using type = T;
};
template <class T>
using same_t = typename same<T>::type;  // keeps a parameter out of template deduction

template <class T, class F>
inline T atomic_update(T* addr, F f) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "atomics on 4- or 8-byte values");
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  Bits* p = reinterpret_cast<Bits*>(addr);
  Bits old_bits = __atomic_load_n(p, __ATOMIC_RELAXED);
  for (;;) {
    T old = from_bits<T>(old_bits);
    Bits new_bits = Bits(to_bits<T>(f(old)));
    if (__atomic_compare_exchange_n(p, &old_bits, new_bits, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_RELAXED))
      return old;
  }
}
}  // namespace elr::simt

template <class T>
inline T atomicAdd(T* addr, elr::simt::same_t<T> v) {
  if constexpr (std::is_integral<T>::value)
    return __atomic_fetch_add(addr, v, __ATOMIC_SEQ_CST);
  else
    return elr::simt::atomic_update(addr, [v](T old) { return T(old + v); });
}
template <class T>
inline T atomicSub(T* addr, elr::simt::same_t<T> v) {
  return __atomic_fetch_sub(addr, v, __ATOMIC_SEQ_CST);
}
template <class T>
inline T atomicExch(T* addr, elr::simt::same_t<T> v) {
  return elr::simt::atomic_update(addr, [v](T) { return v; });
}
template <class T>
inline T atomicMax(T* addr, elr::simt::same_t<T> v) {
  return elr::simt::atomic_update(addr, [v](T old) { return old < v ? v : old; });
}
template <class T>
inline T atomicMin(T* addr, elr::simt::same_t<T> v) {
  return elr::simt::atomic_update(addr, [v](T old) { return v < old ? v : old; });
}
template <class T>
inline T atomicCAS(T* addr, elr::simt::same_t<T> compare, elr::simt::same_t<T> v) {
  __atomic_compare_exchange_n(addr, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;  // holds the old value whether or not the exchange happened
}
template <class T>
inline T atomicAnd(T* addr, elr::simt::same_t<T> v) {
  return __atomic_fetch_and(addr, v, __ATOMIC_SEQ_CST);
}
template <class T>
inline T atomicOr(T* addr, elr::simt::same_t<T> v) {
  return __atomic_fetch_or(addr, v, __ATOMIC_SEQ_CST);
}
template <class T>
inline T atomicXor(T* addr, elr::simt::same_t<T> v) {
  return __atomic_fetch_xor(addr, v, __ATOMIC_SEQ_CST);
}
inline unsigned atomicInc(unsigned* addr, unsigned limit) {
  return elr::simt::atomic_update(addr, [limit](unsigned old) { return old >= limit ? 0u : old + 1; });
}
inline unsigned atomicDec(unsigned* addr, unsigned limit) {
  return elr::simt::atomic_update(
      addr, [limit](unsigned old) { return (old == 0 || old > limit) ? limit : old - 1; });
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline long long clock64() { return (long long)__builtin_ia32_rdtsc(); }
inline void __nanosleep(unsigned) {}

// ---- math and bit intrinsics ---------------------------------------------------------------------
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return std::exp(x); }
inline float __exp10f(float x) { return std::pow(10.0f, x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __log10f(float x) { return std::log10(x); }
inline float __powf(float a, float b) { return std::pow(a, b); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline float __tanhf(float x) { return std::tanh(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }
inline int __float2int_rn(float x) { return int(std::nearbyint(x)); }
inline int __float2int_rz(float x) { return int(x); }
inline int __float2int_rd(float x) { return int(std::floor(x)); }
inline int __float2int_ru(float x) { return int(std::ceil(x)); }
inline float __int2float_rn(int x) { return float(x); }
inline int __float_as_int(float x) { return elr::simt::from_bits<int>(elr::simt::to_bits(x)); }
inline unsigned __float_as_uint(float x) {
  return elr::simt::from_bits<unsigned>(elr::simt::to_bits(x));
}
inline float __int_as_float(int x) { return elr::simt::from_bits<float>(elr::simt::to_bits(x)); }
inline float __uint_as_float(unsigned x) {
  return elr::simt::from_bits<float>(elr::simt::to_bits(x));
}
inline long long __double_as_longlong(double x) {
  return elr::simt::from_bits<long long>(elr::simt::to_bits(x));
}
inline double __longlong_as_double(long long x) {
  return elr::simt::from_bits<double>(elr::simt::to_bits(x));
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline int __mul24(int a, int b) { return a * b; }
inline unsigned __umul24(unsigned a, unsigned b) { return a * b; }
inline int __mulhi(int a, int b) { return int(((long long)a * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned(((unsigned long long)a * b) >> 32); }
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
// Device code calls min/max unqualified for every arithmetic type.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
