#include "kernels/simt/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define ELR_SIMT_ASAN 1
#endif

namespace elr::simt {

namespace ctx = boost::context::detail;

namespace {
size_t page_size() {
  static const size_t size = size_t(sysconf(_SC_PAGESIZE));
  return size;
}

void start_switch(void** fake_stack_save, const void* bottom, size_t size) {
#ifdef ELR_SIMT_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

void finish_switch(void* fake_stack_save, const void** bottom_old, size_t* size_old) {
#ifdef ELR_SIMT_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
  (void)fake_stack_save, (void)bottom_old, (void)size_old;
#endif
}
}  // namespace

Fiber::Fiber(FiberHost* host, Entry entry, size_t stack_bytes) : host_(host), entry_(entry) {
  const size_t page = page_size();
  stack_bytes_ = (stack_bytes + 15) / 16 * 16;
  mapping_bytes_ = (stack_bytes_ + page - 1) / page * page + page;  // one guard page below the stack catches overflow
  mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (mapping_ == MAP_FAILED) throw std::bad_alloc();
  mprotect(mapping_, page, PROT_NONE);
  // The stack ends at the top of the mapping; its bottom need not be page aligned.
  stack_bottom_ = static_cast<char*>(mapping_) + mapping_bytes_ - stack_bytes_;
  reset();
}

Fiber::~Fiber() { munmap(mapping_, mapping_bytes_); }

void Fiber::reset() {
#ifdef ELR_SIMT_ASAN
  __asan_unpoison_memory_region(stack_bottom_, stack_bytes_);
#endif
  context_ = ctx::make_fcontext(stack_bottom_ + stack_bytes_, stack_bytes_, &Fiber::trampoline);
  fake_stack_ = nullptr;
}

void Fiber::resume() {
  void* host_fake_stack = nullptr;
  start_switch(&host_fake_stack, stack_bottom_, stack_bytes_);
  ctx::transfer_t back = ctx::jump_fcontext(context_, this);
  finish_switch(host_fake_stack, nullptr, nullptr);
  context_ = back.fctx;
}

void Fiber::suspend() {
  start_switch(&fake_stack_, host_->stack_bottom, host_->stack_size);
  ctx::transfer_t from = ctx::jump_fcontext(host_->context, nullptr);
  finish_switch(fake_stack_, &host_->stack_bottom, &host_->stack_size);
  host_->context = from.fctx;
}

void Fiber::trampoline(ctx::transfer_t from) {
  Fiber* self = static_cast<Fiber*>(from.data);
  finish_switch(nullptr, &self->host_->stack_bottom, &self->host_->stack_size);
  self->host_->context = from.fctx;
  for (;;) {
    self->entry_(self);  // runs one CUDA thread to completion...
    self->suspend();     // ...then waits to be handed the next one
  }
}

}  // namespace elr::simt
