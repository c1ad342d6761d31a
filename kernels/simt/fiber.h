// A CUDA thread's execution context: a guarded mmap'ed stack and a Boost.Context fcontext.
// Switches are annotated for AddressSanitizer so stack switching is not mistaken for overflow.
#pragma once
#include <cstddef>

#include <boost/context/detail/fcontext.hpp>

namespace elr::simt {

class Fiber;

// The side of a switch that is not a fiber: the OS thread's own stack.
struct FiberHost {
  boost::context::detail::fcontext_t context = nullptr;
  const void* stack_bottom = nullptr;  // learnt from ASan on the first switch
  size_t stack_size = 0;
};

class Fiber {
 public:
  using Entry = void (*)(Fiber*);
  Fiber(FiberHost* host, Entry entry, size_t stack_bytes);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Host side: run the fiber until it calls suspend().
  void resume();
  // Fiber side: return control to the host.
  void suspend();
  // Forget the fiber's frames (after an aborted block); the next resume() starts entry afresh.
  void reset();

  int slot = -1;  // the CUDA thread it runs, an index into the block's thread slots

 private:
  static void trampoline(boost::context::detail::transfer_t from);

  FiberHost* host_;
  Entry entry_;
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  char* stack_bottom_ = nullptr;
  size_t stack_bytes_ = 0;
  boost::context::detail::fcontext_t context_ = nullptr;
  void* fake_stack_ = nullptr;  // ASan's fake stack of the suspended side
};

}  // namespace elr::simt
