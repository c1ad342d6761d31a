// Runs kernel launches on the CPU: a block's CUDA threads are fibers on one OS thread, switched at
// barriers and warp operations; blocks are spread over a small pool of OS threads. synccheck, which
// turns GPU hangs and silent corruption into errors (deadlock, divergent barriers, exits at
// barriers, bad warp masks), lives here too; the memory checks (checks.h) are told where each block
// and thread is.
#include "kernels/simt/device_api.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kernels/simt/checks.h"
#include "kernels/simt/control.h"
#include "kernels/simt/executable.h"
#include "kernels/simt/fiber.h"
#include "kernels/simt/scheduler.h"

namespace elr::simt {

// ---- configuration -----------------------------------------------------------------------------
Schedule Schedule::parse(const std::string& text) {
  Schedule s;
  if (text == "forward") return s;
  if (text == "reverse") {
    s.kind = Kind::Reverse;
    return s;
  }
  if (text == "random" || text.rfind("random:", 0) == 0) {
    s.kind = Kind::Random;
    s.seed = 1;
    if (text.size() > 7) {
      char* end = nullptr;
      s.seed = std::strtoull(text.c_str() + 7, &end, 10);
      if (*end != '\0' || text.size() == 7) throw UserError("bad simt schedule seed in '" + text + "'");
    }
    return s;
  }
  throw UserError("unknown simt schedule '" + text + "' (forward, reverse, random:SEED)");
}

std::string Schedule::str() const {
  switch (kind) {
    case Kind::Forward: return "forward";
    case Kind::Reverse: return "reverse";
    case Kind::Random: return "random:" + std::to_string(seed);
  }
  return "?";
}

const char* fault_name(Fault fault) {
  switch (fault) {
    case Fault::BadLaunch: return "bad launch";
    case Fault::Deadlock: return "deadlock";
    case Fault::DivergentBarrier: return "divergent barrier";
    case Fault::ExitAtBarrier: return "thread exited while others wait at a barrier";
    case Fault::BadWarpMask: return "bad warp mask";
    case Fault::WarpOpMismatch: return "warp operation mismatch";
    case Fault::SharedRace: return "shared memory race";
    case Fault::GlobalRace: return "global memory write conflict";
    case Fault::StreamRace: return "stream race";
    case Fault::HostRace: return "host race";
    case Fault::UninitializedRead: return "uninitialized read";
    case Fault::OutOfBounds: return "out-of-bounds access";
    case Fault::KernelException: return "exception in kernel";
    case Fault::NotInKernel: return "device intrinsic outside a kernel";
  }
  return "?";
}

const char* check_name(Fault fault) {
  switch (fault) {
    case Fault::BadLaunch: return "launch limits";
    case Fault::Deadlock:
    case Fault::DivergentBarrier:
    case Fault::ExitAtBarrier:
    case Fault::BadWarpMask:
    case Fault::WarpOpMismatch: return "synccheck";
    case Fault::SharedRace:
    case Fault::GlobalRace:
    case Fault::StreamRace: return "racecheck";
    case Fault::HostRace: return "host race";
    case Fault::UninitializedRead: return "initcheck";
    case Fault::OutOfBounds: return "memcheck";
    case Fault::KernelException:
    case Fault::NotInKernel: return "kernel";
  }
  return "?";
}

namespace {

struct Config {
  std::mutex mutex;
  Schedule schedule;
  int workers = 1;
  Config() {
    if (const char* s = std::getenv("ELR_SIMT_SCHEDULE"); s && *s) schedule = Schedule::parse(s);
    int hw = int(std::thread::hardware_concurrency());
    workers = std::max(1, std::min(4, hw));
    if (const char* w = std::getenv("ELR_SIMT_WORKERS"); w && *w) workers = std::max(1, std::atoi(w));
  }
};
Config& config() {
  static Config c;
  return c;
}

size_t fiber_stack_bytes() {
#if defined(__SANITIZE_ADDRESS__)
  size_t kib = 512;  // ASan's redzones make frames several times larger
#else
  size_t kib = 128;
#endif
  if (const char* s = std::getenv("ELR_SIMT_STACK_KB"); s && *s) kib = size_t(std::atol(s));
  return kib * 1024;  // virtual: only touched pages become resident
}

std::atomic<int> g_fibers_created{0};

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

const char* warp_op_name(WarpOp op) {
  switch (op) {
    case WarpOp::Shfl: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::All: return "__all_sync";
    case WarpOp::Any: return "__any_sync";
    case WarpOp::SyncWarp: return "__syncwarp";
  }
  return "?";
}

std::string dims(const dim3& d) { return fmt::format("({},{},{})", d.x, d.y, d.z); }
std::string dims(const uint3& d) { return fmt::format("({},{},{})", d.x, d.y, d.z); }

// One launch, shared by the OS threads that run its blocks.
struct Job {
  const LaunchClosure* call = nullptr;
  const LaunchChecks* checks = nullptr;  // null: memory checks off
  const KernelInfo* kernel = nullptr;     // its __shared__ variables, when the symbol table has them
  dim3 grid, block;
  size_t shmem_bytes = 0;
  LaunchSite site{};
  Schedule schedule;
  long blocks = 0;
  std::atomic<long> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  long error_block = LONG_MAX;
  std::unique_ptr<KernelError> error;
};

// Unwinds a CUDA thread's fiber after a fault; never escapes the fiber.
struct ThreadAbort {};

// Executes blocks on the OS thread that owns it; fibers are created on demand and kept.
class Runner {
 public:
  Runner() : checks_(&Runner::fail_from_check, this) {}
  ~Runner() = default;
  void run_block(Job& job, long block_linear);
  int barrier(BarrierOp op, int predicate, const char* file, int line);
  uint64_t warp(WarpOp op, unsigned mask, uint64_t value, int param, int width, const char* file,
                int line);
  unsigned active_lanes() const;
  void* shared_memory() { return shared_.data(); }
  bool in_thread() const { return current_ >= 0; }

 private:
  enum class State : uint8_t { NotStarted, Ready, Running, AtBarrier, AtWarp, Done };
  struct Slot {
    uint3 idx;
    int lane = 0, warp = 0;
    State state = State::NotStarted;
    Fiber* fiber = nullptr;
    const char* file = "";
    int line = 0;
    BarrierOp barrier_op = BarrierOp::Plain;
    int predicate = 0;
    WarpOp warp_op = WarpOp::SyncWarp;
    unsigned mask = 0;
    uint64_t value = 0, result = 0;
    int param = 0, width = 32;
  };

  static void thread_entry(Fiber* fiber);
  void finish_thread(Fiber* fiber);
  void resume(int slot);
  void schedule_loop();
  void release_barrier();
  void resolve_warp(int base, unsigned mask);
  void order_ids(std::vector<int>& ids);
  [[noreturn]] void fail_in_thread(Fault fault, const std::string& problem);
  static void fail_from_check(void* runner, Fault fault, const std::string& problem);
  KernelError error(Fault fault, const std::string& problem) const;
  std::string describe_threads() const;
  std::string thread_site(const Slot& s) const;
  void abort_block();

  FiberHost host_;
  std::vector<std::unique_ptr<Fiber>> fibers_;
  std::vector<Fiber*> free_fibers_;
  std::vector<Slot> slots_;
  std::vector<int> run_queue_, order_;
  size_t queue_head_ = 0;
  std::vector<unsigned char> shared_;
  Job* job_ = nullptr;
  uint3 block_idx_{};
  int threads_ = 0, current_ = -1, done_ = 0, at_barrier_ = 0, at_warp_ = 0, barrier_result_ = 0;
  uint64_t rng_ = 0;
  std::unique_ptr<KernelError> error_;  // raised inside a fiber, thrown by the scheduler
  BlockChecks checks_;
};

thread_local Runner* tl_runner = nullptr;  // the runner executing a block on this OS thread

Runner& this_thread_runner() {
  thread_local Runner runner;
  return runner;
}

Runner& active_runner(const char* what, const char* file, int line) {
  Runner* r = tl_runner;
  if (!r || !r->in_thread())
    throw KernelError(Fault::NotInKernel, fmt::format("{} called outside a kernel ({}:{})", what, file, line));
  return *r;
}

void Runner::run_block(Job& job, long block_linear) {
  job_ = &job;
  tl_runner = this;
  block_idx_ = uint3{unsigned(block_linear % job.grid.x),
                     unsigned((block_linear / job.grid.x) % job.grid.y),
                     unsigned(block_linear / (long(job.grid.x) * job.grid.y))};
  blockIdx = block_idx_;
  blockDim = job.block;
  gridDim = job.grid;
  threads_ = int(job.block.x * job.block.y * job.block.z);
  slots_.assign(size_t(threads_), Slot{});
  for (int i = 0; i < threads_; ++i) {
    Slot& s = slots_[size_t(i)];
    s.idx = uint3{unsigned(i % int(job.block.x)), unsigned((i / int(job.block.x)) % int(job.block.y)),
                  unsigned(i / int(job.block.x * job.block.y))};
    s.lane = i % 32;
    s.warp = i / 32;
  }
  // Shared memory starts as poison in every block (uninitialized floats read as NaN): the dynamic
  // buffer (with room past its end for memcheck to see overruns land) and the kernel's __shared__
  // variables (those of the device functions it calls are not known here).
  const size_t redzone = job.checks ? 256 : 16;
  shared_.assign(job.shmem_bytes + redzone, 0xFF);
  if (job.kernel) {
    unsigned char* tls = thread_local_block().base;
    for (const SharedVariable& v : job.kernel->shared) std::memset(tls + v.offset, 0xFF, v.size);
  }
  checks_.begin_block(job.checks, block_linear, job.block, shared_.data(), job.shmem_bytes, shared_.size());
  uint64_t seed_state = job.schedule.seed ^ (uint64_t(block_linear) * 0x2545f4914f6cdd1dull);
  rng_ = splitmix(seed_state);
  done_ = at_barrier_ = at_warp_ = 0;
  error_.reset();
  run_queue_.resize(size_t(threads_));
  for (int i = 0; i < threads_; ++i) run_queue_[size_t(i)] = i;
  order_ids(run_queue_);
  queue_head_ = 0;
  try {
    schedule_loop();
  } catch (...) {
    abort_block();
    checks_.end_block();
    tl_runner = nullptr;
    throw;
  }
  checks_.end_block();
  tl_runner = nullptr;
}

void Runner::schedule_loop() {
  for (;;) {
    while (queue_head_ < run_queue_.size()) {
      resume(run_queue_[queue_head_++]);
      if (error_) throw KernelError(*error_);
    }
    run_queue_.clear();
    queue_head_ = 0;
    if (done_ == threads_) return;
    if (at_barrier_ > 0 && at_barrier_ + done_ == threads_) {
      release_barrier();
      continue;
    }
    throw error(Fault::Deadlock, "no thread can make progress");
  }
}

void Runner::resume(int id) {
  Slot& s = slots_[size_t(id)];
  s.state = State::Running;
  current_ = id;
  threadIdx = s.idx;
  if (!s.fiber) {
    if (free_fibers_.empty()) {
      // Stagger stack sizes so the fibers' hot frames do not all map to the same cache sets.
      const size_t stagger = (fibers_.size() % 61) * 256;
      fibers_.push_back(
          std::make_unique<Fiber>(&host_, &Runner::thread_entry, fiber_stack_bytes() + stagger));
      g_fibers_created.fetch_add(1, std::memory_order_relaxed);
      free_fibers_.push_back(fibers_.back().get());
    }
    s.fiber = free_fibers_.back();
    free_fibers_.pop_back();
    s.fiber->slot = id;
  }
  checks_.set_thread(id);
  s.fiber->resume();
  checks_.set_thread(-1);
  current_ = -1;
  if (s.state == State::Done && !error_) {  // a failing fiber stays with its slot to be reset
    s.fiber->slot = -1;
    free_fibers_.push_back(s.fiber);
    s.fiber = nullptr;
  }
}

void Runner::thread_entry(Fiber* fiber) {
  Runner& r = *tl_runner;
  bool aborted = false, threw = false;
  std::string thrown;
  try {
    r.job_->call->run_thread();
  } catch (const ThreadAbort&) {
    aborted = true;
  } catch (const std::exception& e) {
    threw = true, thrown = e.what();
  } catch (...) {
    threw = true, thrown = "unknown exception";
  }
  // Faults are raised outside the handlers: the C++ runtime's exception state is per OS thread.
  if (!aborted) {
    try {
      if (threw) r.fail_in_thread(Fault::KernelException, "the kernel threw: " + thrown);
      r.finish_thread(fiber);
    } catch (const ThreadAbort&) {
      aborted = true;
    }
  }
  if (aborted) {
    std::string().swap(thrown);  // nothing owned may stay on a stack that is abandoned
    for (;;) fiber->suspend();   // the scheduler throws the fault and resets this fiber
  }
}

void Runner::finish_thread(Fiber* fiber) {
  Slot& s = slots_[size_t(fiber->slot)];
  s.state = State::Done;
  s.file = "";
  s.line = 0;
  ++done_;
  const int base = s.warp * 32;
  for (int l = 0; at_warp_ > 0 && l < 32 && base + l < threads_; ++l) {
    const Slot& other = slots_[size_t(base + l)];
    if (other.state == State::AtWarp && (other.mask >> s.lane & 1u))
      fail_in_thread(Fault::BadWarpMask,
                     fmt::format("thread {} (lane {}) exited, but lane {} waits at {} ({}:{}) with "
                                 "mask 0x{:08x} naming it",
                                 dims(s.idx), s.lane, l, warp_op_name(other.warp_op), other.file,
                                 other.line, other.mask));
  }
}

int Runner::barrier(BarrierOp op, int predicate, const char* file, int line) {
  Slot& s = slots_[size_t(current_)];
  s.state = State::AtBarrier;
  s.barrier_op = op;
  s.predicate = predicate;
  s.file = file;
  s.line = line;
  ++at_barrier_;
  s.fiber->suspend();
  return barrier_result_;
}

void Runner::release_barrier() {
  const Slot* first = nullptr;
  bool same_site = true;
  int count = 0;
  for (const Slot& s : slots_) {
    if (s.state != State::AtBarrier) continue;
    count += s.predicate;
    if (!first)
      first = &s;
    else if (s.line != first->line || (s.file != first->file && std::strcmp(s.file, first->file) != 0))
      same_site = false;
  }
  if (done_ > 0)
    throw error(Fault::ExitAtBarrier,
                fmt::format("{} thread(s) returned while {} wait at __syncthreads ({}:{})", done_,
                            at_barrier_, first->file, first->line));
  if (!same_site)
    throw error(Fault::DivergentBarrier, "threads wait at different __syncthreads call sites");
  switch (first->barrier_op) {
    case BarrierOp::Plain: barrier_result_ = 0; break;
    case BarrierOp::Count: barrier_result_ = count; break;
    case BarrierOp::And: barrier_result_ = count == threads_; break;
    case BarrierOp::Or: barrier_result_ = count > 0; break;
  }
  order_.resize(size_t(threads_));
  for (int i = 0; i < threads_; ++i) order_[size_t(i)] = i;
  order_ids(order_);
  for (int id : order_) {
    Slot& s = slots_[size_t(id)];
    s.state = State::Ready;
    run_queue_.push_back(id);
  }
  at_barrier_ = 0;
  checks_.barrier();
}

void Runner::order_ids(std::vector<int>& ids) {
  // `ids` always arrives in ascending order.
  switch (job_->schedule.kind) {
    case Schedule::Kind::Forward: break;
    case Schedule::Kind::Reverse: std::reverse(ids.begin(), ids.end()); break;
    case Schedule::Kind::Random:
      for (size_t i = ids.size(); i > 1; --i) std::swap(ids[i - 1], ids[splitmix(rng_) % i]);
      break;
  }
}

uint64_t Runner::warp(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                      const char* file, int line) {
  Slot& s = slots_[size_t(current_)];
  s.state = State::AtWarp;
  s.warp_op = op;
  s.mask = mask;
  s.value = value;
  s.param = param;
  s.width = width;
  s.file = file;
  s.line = line;
  ++at_warp_;
  const int base = s.warp * 32;
  const int present = std::min(32, threads_ - base);
  if (width < 1 || width > 32 || (width & (width - 1)) != 0)
    fail_in_thread(Fault::BadWarpMask, fmt::format("{} width {} is not a power of two <= 32",
                                                   warp_op_name(op), width));
  if (!(mask >> s.lane & 1u))
    fail_in_thread(Fault::BadWarpMask,
                   fmt::format("{} mask 0x{:08x} does not name the calling lane {}",
                               warp_op_name(op), mask, s.lane));
  bool all_arrived = true;
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    if (l >= present)
      fail_in_thread(Fault::BadWarpMask,
                     fmt::format("{} mask 0x{:08x} names lane {}, but warp {} has only {} "
                                 "thread(s) (blockDim {})",
                                 warp_op_name(op), mask, l, s.warp, present, dims(job_->block)));
    const Slot& other = slots_[size_t(base + l)];
    if (other.state == State::Done)
      fail_in_thread(Fault::BadWarpMask,
                     fmt::format("{} mask 0x{:08x} names lane {}, which has exited",
                                 warp_op_name(op), mask, l));
    if (other.state != State::AtWarp) all_arrived = false;
  }
  if (all_arrived) resolve_warp(base, mask);
  s.fiber->suspend();
  return s.result;
}

void Runner::resolve_warp(int base, unsigned mask) {
  const Slot& caller = slots_[size_t(current_)];
  unsigned votes = 0;
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    const Slot& s = slots_[size_t(base + l)];
    if (s.warp_op != caller.warp_op || s.mask != caller.mask)
      fail_in_thread(Fault::WarpOpMismatch,
                     fmt::format("lane {} is at {} mask 0x{:08x} ({}:{}) but lane {} is at {} mask "
                                 "0x{:08x} ({}:{})",
                                 caller.lane, warp_op_name(caller.warp_op), caller.mask, caller.file,
                                 caller.line, l, warp_op_name(s.warp_op), s.mask, s.file, s.line));
    if (s.value) votes |= 1u << l;
  }
  // Reading a lane outside the mask is undefined on the GPU: hand back an all-ones (NaN) value.
  auto value_of = [&](int src, int self) -> uint64_t {
    if (src == self) return slots_[size_t(base + self)].value;
    if (src < 0 || src >= 32 || !(mask >> src & 1u)) return ~uint64_t(0);
    return slots_[size_t(base + src)].value;
  };
  order_.clear();
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    Slot& s = slots_[size_t(base + l)];
    const int w = s.width, segment = l & ~(w - 1), pos = l & (w - 1);
    switch (s.warp_op) {
      case WarpOp::Shfl: s.result = value_of(segment + (s.param & (w - 1)), l); break;
      case WarpOp::ShflUp: s.result = value_of(pos >= s.param ? l - s.param : l, l); break;
      case WarpOp::ShflDown: s.result = value_of(pos + s.param < w ? l + s.param : l, l); break;
      case WarpOp::ShflXor: {
        int src = l ^ s.param;
        s.result = value_of(src >= segment + w ? l : src, l);  // later segments read their own
        break;
      }
      case WarpOp::Ballot: s.result = votes; break;
      case WarpOp::All: s.result = votes == mask; break;
      case WarpOp::Any: s.result = votes != 0; break;
      case WarpOp::SyncWarp: s.result = 0; break;
    }
    s.state = State::Ready;
    --at_warp_;
    order_.push_back(base + l);
  }
  if (caller.warp_op == WarpOp::SyncWarp) checks_.warp_synced(caller.warp, mask);
  order_ids(order_);
  run_queue_.insert(run_queue_.end(), order_.begin(), order_.end());
}

unsigned Runner::active_lanes() const {
  const Slot& s = slots_[size_t(current_)];
  const int base = s.warp * 32;
  unsigned lanes = 0;
  for (int l = 0; l < 32 && base + l < threads_; ++l)
    if (slots_[size_t(base + l)].state != State::Done) lanes |= 1u << l;
  return lanes;
}

void Runner::fail_in_thread(Fault fault, const std::string& problem) {
  if (!error_) error_ = std::make_unique<KernelError>(error(fault, problem));
  throw ThreadAbort{};  // unwinds the kernel's frames on its own fiber, up to thread_entry
}

// A memory check failed inside an access hook, which the compiler assumes never throws: the
// thread stops where it is (its fiber is abandoned and reset with the block).
void Runner::fail_from_check(void* runner, Fault fault, const std::string& problem) {
  Runner& r = *static_cast<Runner*>(runner);
  if (!r.error_) r.error_ = std::make_unique<KernelError>(r.error(fault, problem));
  r.slots_[size_t(r.current_)].fiber->suspend();
}

std::string Runner::thread_site(const Slot& s) const {
  switch (s.state) {
    case State::NotStarted: return "not started";
    case State::Ready: return "ready";
    case State::Running: return *s.file ? fmt::format("running, last at {}:{}", s.file, s.line) : "running";
    case State::AtBarrier: return fmt::format("waiting at __syncthreads ({}:{})", s.file, s.line);
    case State::AtWarp:
      return fmt::format("waiting at {} mask 0x{:08x} ({}:{})", warp_op_name(s.warp_op), s.mask,
                         s.file, s.line);
    case State::Done: return "exited";
  }
  return "?";
}

std::string Runner::describe_threads() const {
  // Group threads by what they are doing so a 1,024-thread block stays readable.
  std::map<std::string, std::pair<int, std::vector<std::string>>> groups;
  for (const Slot& s : slots_) {
    auto& g = groups[thread_site(s)];
    ++g.first;
    if (g.second.size() < 4) g.second.push_back(dims(s.idx));
  }
  std::string out;
  for (const auto& [site, g] : groups) {
    out += fmt::format("\n  {} thread(s) {}: {}", g.first, site, fmt::join(g.second, " "));
    if (g.first > int(g.second.size())) out += " ...";
  }
  return out;
}

KernelError Runner::error(Fault fault, const std::string& problem) const {
  return KernelError(fault, fmt::format("simt: {}: {} in kernel '{}' (launched at {}:{}), block {} of "
                                        "grid {}, blockDim {}, schedule {}: {}{}",
                                        check_name(fault), fault_name(fault), job_->site.kernel, job_->site.file,
                                        job_->site.line, dims(block_idx_), dims(job_->grid),
                                        dims(job_->block), job_->schedule.str(), problem,
                                        describe_threads()));
}

void Runner::abort_block() {
  // Threads still suspended inside the kernel are abandoned: their stacks are simply reused.
  for (Slot& s : slots_) {
    if (!s.fiber) continue;
    s.fiber->reset();
    s.fiber->slot = -1;
    free_fibers_.push_back(s.fiber);
    s.fiber = nullptr;
  }
  current_ = -1;
}

// ---- the pool of OS threads that run blocks ------------------------------------------------------
void run_blocks(Job& job) {
  Runner& runner = this_thread_runner();
  for (;;) {
    if (job.failed.load(std::memory_order_relaxed)) return;
    long b = job.next_block.fetch_add(1);
    if (b >= job.blocks) return;
    try {
      runner.run_block(job, b);
    } catch (const KernelError& e) {
      std::lock_guard<std::mutex> lock(job.error_mutex);
      if (b < job.error_block) {
        job.error_block = b;
        job.error = std::make_unique<KernelError>(e);
      }
      job.failed = true;
    }
  }
}

class WorkerPool {
 public:
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // Runs `job` on the calling thread and `helpers` pool threads; returns when all are done.
  void run(Job& job, int helpers) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (int(threads_.size()) < helpers) {
        int index = int(threads_.size());
        threads_.emplace_back([this, index] { worker(index); });
      }
      job_ = &job;
      helpers_ = helpers;
      running_ = helpers;
      ++generation_;
    }
    wake_.notify_all();
    run_blocks(job);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return running_ == 0; });
    job_ = nullptr;
  }

 private:
  void worker(int index) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= helpers_) continue;
      Job* job = job_;
      lock.unlock();
      run_blocks(*job);
      lock.lock();
      if (--running_ == 0) done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  Job* job_ = nullptr;
  int helpers_ = 0, running_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

// ---- entry points used by simt.h and control.h ----------------------------------------------------
void set_schedule(const Schedule& schedule) {
  std::lock_guard<std::mutex> lock(config().mutex);
  config().schedule = schedule;
}
Schedule current_schedule() {
  std::lock_guard<std::mutex> lock(config().mutex);
  return config().schedule;
}
void set_num_workers(int workers) {
  std::lock_guard<std::mutex> lock(config().mutex);
  config().workers = std::max(1, workers);
}
int num_workers() {
  std::lock_guard<std::mutex> lock(config().mutex);
  return config().workers;
}
int fibers_created() { return g_fibers_created.load(); }

int block_barrier(BarrierOp op, int predicate, const char* file, int line) {
  return active_runner("__syncthreads", file, line).barrier(op, predicate, file, line);
}

uint64_t warp_exchange(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                       const char* file, int line) {
  return active_runner(warp_op_name(op), file, line).warp(op, mask, value, param, width, file, line);
}

unsigned active_lanes() { return active_runner("__activemask", "", 0).active_lanes(); }

void* dynamic_shared_memory() {
  return active_runner("dynamic shared memory", "", 0).shared_memory();
}

void execute_launch(const LaunchClosure& call, dim3 grid, dim3 block, size_t shmem_bytes, const LaunchSite& site,
                    const LaunchChecks* checks) {
  std::lock_guard<std::mutex> serial(launch_mutex());  // one launch at a time
  Job job;
  job.call = &call;
  job.checks = checks;
  if (site.address) job.kernel = &kernel_info(site.address);
  job.grid = grid;
  job.block = block;
  job.shmem_bytes = shmem_bytes;
  job.site = site;
  job.blocks = long(grid.x) * grid.y * grid.z;
  int workers;
  {
    Config& c = config();
    std::lock_guard<std::mutex> lock(c.mutex);
    job.schedule = c.schedule;
    workers = c.workers;
  }
  static WorkerPool pool;
  pool.run(job, int(std::min<long>(workers, job.blocks)) - 1);
  if (job.error) throw KernelError(*job.error);
}

}  // namespace elr::simt
