// The entry points of GCC's ThreadSanitizer instrumentation (-fsanitize=thread, which the checked
// kernel libraries are compiled with), implemented by the layer instead of libtsan: every load,
// store and atomic of a checked kernel reaches the memory checks (checks.h) with its address, size
// and the code address it comes from. Atomics are performed here (sequentially consistent).
// Linked only into binaries whose kernels are instrumented; its presence turns the checks on.
#include <cstdint>

#include "kernels/simt/checks.h"

using elr::simt::AccessKind;

extern "C" {

// checks.cpp looks for this symbol to know that the kernels carry the hooks.
extern const int elr_simt_access_hooks = 1;

#define ELR_PC __builtin_return_address(0)
#define ELR_ACCESS(name, bytes, kind) \
  void name(void* p) { elr::simt::check_access(p, bytes, AccessKind::kind, ELR_PC); }
#define ELR_ACCESS_SIZES(prefix, kind)         \
  ELR_ACCESS(prefix##1, 1, kind)               \
  ELR_ACCESS(prefix##2, 2, kind)               \
  ELR_ACCESS(prefix##4, 4, kind)               \
  ELR_ACCESS(prefix##8, 8, kind)               \
  ELR_ACCESS(prefix##16, 16, kind)

ELR_ACCESS_SIZES(__tsan_read, Read)
ELR_ACCESS_SIZES(__tsan_write, Write)
ELR_ACCESS_SIZES(__tsan_unaligned_read, Read)
ELR_ACCESS_SIZES(__tsan_unaligned_write, Write)
ELR_ACCESS_SIZES(__tsan_volatile_read, Read)
ELR_ACCESS_SIZES(__tsan_volatile_write, Write)

void __tsan_read_range(void* p, unsigned long bytes) { elr::simt::check_access(p, bytes, AccessKind::Read, ELR_PC); }
void __tsan_write_range(void* p, unsigned long bytes) { elr::simt::check_access(p, bytes, AccessKind::Write, ELR_PC); }

void __tsan_init() {}
void __tsan_func_entry(void*) {}
void __tsan_func_exit() {}
void __tsan_vptr_update(void**, void*) {}
void __tsan_vptr_read(void**) {}
void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

#define ELR_ATOMIC_RMW(bits, T, op)                                                  \
  T __tsan_atomic##bits##_##op(volatile T* a, T v, int) {                            \
    elr::simt::check_access((void*)a, sizeof(T), AccessKind::Atomic, ELR_PC);        \
    return __atomic_##op(a, v, __ATOMIC_SEQ_CST);                                    \
  }
#define ELR_ATOMICS(bits, T)                                                                         \
  T __tsan_atomic##bits##_load(const volatile T* a, int) {                                           \
    elr::simt::check_access((void*)a, sizeof(T), AccessKind::Atomic, ELR_PC);                        \
    return __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                     \
  }                                                                                                  \
  void __tsan_atomic##bits##_store(volatile T* a, T v, int) {                                        \
    elr::simt::check_access((void*)a, sizeof(T), AccessKind::Write, ELR_PC);                         \
    __atomic_store_n(a, v, __ATOMIC_SEQ_CST);                                                        \
  }                                                                                                  \
  T __tsan_atomic##bits##_exchange(volatile T* a, T v, int) {                                        \
    elr::simt::check_access((void*)a, sizeof(T), AccessKind::Atomic, ELR_PC);                        \
    return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                              \
  }                                                                                                  \
  ELR_ATOMIC_RMW(bits, T, fetch_add)                                                                 \
  ELR_ATOMIC_RMW(bits, T, fetch_sub)                                                                 \
  ELR_ATOMIC_RMW(bits, T, fetch_and)                                                                 \
  ELR_ATOMIC_RMW(bits, T, fetch_or)                                                                  \
  ELR_ATOMIC_RMW(bits, T, fetch_xor)                                                                 \
  ELR_ATOMIC_RMW(bits, T, fetch_nand)                                                                \
  int __tsan_atomic##bits##_compare_exchange_strong(volatile T* a, T* expected, T v, int, int) {    \
    elr::simt::check_access((void*)a, sizeof(T), AccessKind::Atomic, ELR_PC);                        \
    return __atomic_compare_exchange_n(a, expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);   \
  }                                                                                                  \
  int __tsan_atomic##bits##_compare_exchange_weak(volatile T* a, T* expected, T v, int, int) {      \
    elr::simt::check_access((void*)a, sizeof(T), AccessKind::Atomic, ELR_PC);                        \
    return __atomic_compare_exchange_n(a, expected, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);    \
  }                                                                                                  \
  T __tsan_atomic##bits##_compare_exchange_val(volatile T* a, T expected, T v, int, int) {          \
    elr::simt::check_access((void*)a, sizeof(T), AccessKind::Atomic, ELR_PC);                        \
    __atomic_compare_exchange_n(a, &expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);         \
    return expected;                                                                                 \
  }

ELR_ATOMICS(8, uint8_t)
ELR_ATOMICS(16, uint16_t)
ELR_ATOMICS(32, uint32_t)
ELR_ATOMICS(64, uint64_t)

}  // extern "C"
