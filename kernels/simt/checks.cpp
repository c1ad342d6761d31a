#include "kernels/simt/checks.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "kernels/simt/device_memory.h"
#include "kernels/simt/executable.h"

// Defined by access_hooks.cpp, which only binaries with instrumented kernels link.
extern "C" {
extern const int elr_simt_access_hooks __attribute__((weak));
}

namespace elr::simt {

// ---- which checks ------------------------------------------------------------------------------
Checks Checks::parse(const std::string& text) {
  Checks c;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string name = text.substr(start, end - start);
    if (name == "all") c.memcheck = c.racecheck = c.initcheck = true;
    else if (name == "memcheck") c.memcheck = true;
    else if (name == "racecheck") c.racecheck = true;
    else if (name == "initcheck") c.initcheck = true;
    else if (name == "racecheck-global") c.global_racecheck = true;
    else if (name != "none" && name != "synccheck" && !name.empty())
      throw UserError("unknown simt check '" + name + "' (memcheck, racecheck, initcheck, racecheck-global, all, none)");
    start = end + 1;
  }
  return c;
}

std::string Checks::str() const {
  std::string s;
  for (auto [on, name] : {std::pair{memcheck, "memcheck"}, std::pair{racecheck, "racecheck"},
                          std::pair{initcheck, "initcheck"}, std::pair{global_racecheck, "racecheck-global"}})
    if (on) s += (s.empty() ? "" : ",") + std::string(name);
  return s.empty() ? "none" : s;
}

bool checks_built_in() { return &elr_simt_access_hooks != nullptr; }

const Checks& checks() {
  static const Checks c = [] {
    const char* env = std::getenv("ELR_SIMT_CHECKS");
    Checks parsed = Checks::parse(env && *env ? env : checks_built_in() ? "all" : "none");
    if (parsed.any() && !checks_built_in())
      throw UserError("ELR_SIMT_CHECKS=" + parsed.str() +
                      " needs kernels built with the access hooks (the *_checked binaries); this binary has none");
    return parsed;
  }();
  return c;
}

uint32_t next_launch_serial() {
  static std::atomic<uint32_t> serial{0};
  uint32_t s = ++serial;
  return s ? s : ++serial;  // 0 means "no launch" in the shadow
}

// ---- shared memory -------------------------------------------------------------------------------

void BlockChecks::begin_block(const LaunchChecks* launch, long block, dim3 block_dim, unsigned char* dynamic_shared,
                              size_t dynamic_bytes, size_t dynamic_capacity) {
  launch_ = launch;
  on_ = checks();
  arena_base_ = device_memory().arena_base();
  arena_bytes_ = device_memory().arena_bytes();
  for (uint64_t& op : ordered_ops_) op = 0;
  block_ = block;
  block_dim_ = block_dim;
  thread_ = -1;
  epoch_ = 0;
  if (++serial_ == 0) {  // wrapped: forget every cell rather than mistake an old one for current
    for (SharedCell& c : cells_) c.serial = 0;
    serial_ = 1;
  }
  const TlsBlock tls = thread_local_block();
  if (static_base_ != tls.base) {
    static_base_ = tls.base;
    static_bytes_ = tls.size;
    static_variable_.assign((static_bytes_ + 3) / 4, -1);
    for (size_t g = 0; g < static_variable_.size(); ++g)
      if (const SharedVariable* v = shared_variable_at(g * 4)) static_variable_[g] = int(v->offset);
  }
  dynamic_base_ = dynamic_shared;
  dynamic_bytes_ = dynamic_bytes;
  dynamic_capacity_ = dynamic_capacity;
  const size_t granules = (static_bytes_ + 3) / 4 + (dynamic_capacity + 3) / 4;
  if (cells_.size() < granules) cells_.resize(granules);
  const unsigned threads = block_dim.x * block_dim.y * block_dim.z;
  warps_.assign((threads + 31) / 32, WarpSyncs{});
  tl_block_checks = launch ? this : nullptr;
}

void BlockChecks::end_block() {
  tl_block_checks = nullptr;
  launch_ = nullptr;
  thread_ = -1;
}

void BlockChecks::warp_synced(int warp, unsigned mask) {
  WarpSyncs& w = warps_[size_t(warp)];
  w.masks[++w.count % 16] = mask;
}

bool BlockChecks::warp_synced_since(uint32_t since, unsigned lanes) const {
  const WarpSyncs& w = warps_[size_t(thread_ / 32)];
  if (w.count - since > 16) return true;  // history forgotten: assume a __syncwarp covered them
  lanes |= 1u << (thread_ % 32);
  for (uint32_t k = since + 1; k <= w.count; ++k)
    if ((w.masks[k % 16] & lanes) == lanes) return true;
  return false;
}

bool BlockChecks::ordered(int other, uint32_t other_epoch, uint32_t other_wsync) const {
  if (other == thread_ || other_epoch != epoch_) return true;  // a barrier in between
  return other / 32 == thread_ / 32 && warp_synced_since(other_wsync, 1u << (other % 32));
}

std::string BlockChecks::thread_name(int thread) const {
  const unsigned t = unsigned(thread);
  return fmt::format("thread ({},{},{})", t % block_dim_.x, t / block_dim_.x % block_dim_.y,
                     t / (block_dim_.x * block_dim_.y));
}

std::string BlockChecks::shared_name(uintptr_t address) const {
  if (address - uintptr_t(static_base_) < static_bytes_) {
    const size_t offset = address - uintptr_t(static_base_);
    if (const SharedVariable* v = shared_variable_at(offset))
      return fmt::format("__shared__ '{}' (byte {})", v->name, offset - v->offset);
    return "thread-local memory";
  }
  return fmt::format("dynamic shared memory (byte {})", address - uintptr_t(dynamic_base_));
}

void BlockChecks::fail(Fault fault, const std::string& problem) { fail_(fail_context_, fault, problem); }

namespace {
std::string at(const void* pc) {
  return source_location(static_cast<const char*>(pc) - 1);  // the call's own line, not the next one
}
const char* verb(AccessKind kind) {
  return kind == AccessKind::Read ? "reads" : kind == AccessKind::Write ? "writes" : "atomically updates";
}
}  // namespace

void BlockChecks::access(uintptr_t address, size_t bytes, AccessKind kind, const void* pc) {
  if (thread_ < 0 || bytes == 0) return;
  if (address - arena_base_ < arena_bytes_) return global_access(address, bytes, kind, pc);
  size_t granule;
  if (address - uintptr_t(static_base_) < static_bytes_) {
    // Kernel code's thread-locals are its __shared__ variables and the thread indices.
    const size_t first = (address - uintptr_t(static_base_)) / 4;
    const size_t last = (address + bytes - 1 - uintptr_t(static_base_)) / 4;
    if (static_variable_[first] < 0) return;  // threadIdx and friends
    if (on_.memcheck && (last >= static_variable_.size() || static_variable_[last] != static_variable_[first]))
      return fail(Fault::OutOfBounds, fmt::format("{} {} {} bytes at {} ({}), past the end of the variable",
                                                  thread_name(thread_), verb(kind), bytes, shared_name(address), at(pc)));
    granule = first;
  } else if (address - uintptr_t(dynamic_base_) < dynamic_capacity_) {
    const size_t offset = address - uintptr_t(dynamic_base_);
    if (on_.memcheck && offset + bytes > dynamic_bytes_)
      return fail(Fault::OutOfBounds,
                  fmt::format("{} {} {} bytes at byte {} of dynamic shared memory ({}), {} bytes past the end of the "
                              "launch's {} bytes",
                              thread_name(thread_), verb(kind), bytes, offset, at(pc), offset + bytes - dynamic_bytes_,
                              dynamic_bytes_));
    granule = (static_bytes_ + 3) / 4 + offset / 4;
  } else {
    return;  // the thread's stack, the launch's arguments, host memory: not checked
  }
  const size_t granules = (address % 4 + bytes + 3) / 4;
  for (size_t g = 0; g < granules; ++g) shared_access(granule + g, address, bytes, kind, pc);
}

void BlockChecks::shared_access(size_t index, uintptr_t address, size_t bytes, AccessKind kind, const void* pc) {
  SharedCell& c = cells_[index];
  if (c.serial != serial_) {
    c = SharedCell{};
    c.serial = serial_;
  }
  const Checks& on = on_;
  const uint16_t me = uint16_t(thread_ + 1);
  const int warp = thread_ / 32;
  const uint32_t wsync = warps_[size_t(warp)].count;
  if (kind != AccessKind::Write) {
    if (on.initcheck && c.writer == 0)
      return fail(Fault::UninitializedRead,
                  fmt::format("{} {} {} bytes of {} at {}, which no thread of this block wrote (shared memory starts "
                              "uninitialized in every block)",
                              thread_name(thread_), verb(kind), bytes, shared_name(address), at(pc)));
    if (on.racecheck && kind == AccessKind::Read && c.writer != 0 && c.writer != me &&
        !ordered(c.writer - 1, c.write_epoch, c.write_wsync))
      return fail(Fault::SharedRace,
                  fmt::format("read-after-write hazard: {} reads {} at {}, which {} wrote at {} with no __syncthreads "
                              "between",
                              thread_name(thread_), shared_name(address), at(pc), thread_name(c.writer - 1),
                              at(c.write_pc)));
  }
  if (kind == AccessKind::Read) {
    if (c.reader == 0 || c.read_epoch != epoch_) {
      c.reader = me, c.read_epoch = epoch_, c.read_wsync = wsync, c.read_pc = pc;
      c.reader_warp = int16_t(warp), c.reader_lanes = 1u << (thread_ % 32);
    } else if (c.reader == SharedCell::kManyReaders && c.reader_warp < 0) {
      // Read by several warps since the last barrier: only a barrier orders a write after them.
    } else if (c.reader != me) {
      c.reader = SharedCell::kManyReaders;
      if (c.reader_warp != warp) c.reader_warp = -1;
      c.reader_lanes |= 1u << (thread_ % 32);
      c.read_wsync = std::min(c.read_wsync, wsync);
    }
    return;
  }
  if (on.racecheck && kind == AccessKind::Write) {
    if (c.writer != 0 && c.writer != me && !ordered(c.writer - 1, c.write_epoch, c.write_wsync))
      return fail(Fault::SharedRace,
                  fmt::format("write-after-write hazard: {} writes {} at {}, which {} wrote at {} with no "
                              "__syncthreads between",
                              thread_name(thread_), shared_name(address), at(pc), thread_name(c.writer - 1),
                              at(c.write_pc)));
    if (c.reader != 0 && c.reader != me && c.read_epoch == epoch_) {
      // Several readers are ordered before this write only by a __syncwarp of their (one) warp.
      const bool is_ordered = c.reader == SharedCell::kManyReaders
                                  ? c.reader_warp == warp && warp_synced_since(c.read_wsync, c.reader_lanes)
                                  : ordered(c.reader - 1, c.read_epoch, c.read_wsync);
      if (!is_ordered)
        return fail(Fault::SharedRace,
                    fmt::format("write-after-read hazard: {} writes {} at {}, which {} read at {} with no "
                                "__syncthreads between",
                                thread_name(thread_), shared_name(address), at(pc),
                                c.reader == SharedCell::kManyReaders ? "other threads" : thread_name(c.reader - 1),
                                at(c.read_pc)));
    }
  }
  c.writer = me, c.write_epoch = epoch_, c.write_wsync = wsync, c.write_pc = pc;
  c.reader = 0;
}

// ---- device memory ---------------------------------------------------------------------------------
namespace {

// The racecheck of stream operations on one granule: returns the operation `op` races with, if any.
OpId unordered_with(const OpContext& op, const GranuleShadow& g, AccessKind kind) {
  const uint64_t me = op.id.packed();
  auto unordered = [&](uint64_t other) { return other != 0 && other != me && !op.clock->covers(OpId::unpack(other)); };
  if (unordered(g.writer_op)) return OpId::unpack(g.writer_op);
  if (kind != AccessKind::Read && unordered(g.reader_op)) return OpId::unpack(g.reader_op);
  return OpId{};
}

void record_op(const OpContext& op, GranuleShadow& g, AccessKind kind) {
  (kind == AccessKind::Read ? g.reader_op : g.writer_op) = op.id.packed();
}

std::string stream_race(const OpContext& op, OpId other, bool other_wrote, const char* access, size_t bytes,
                        uintptr_t address) {
  return fmt::format(
      "stream race: {} {} {} bytes at {} ({}), which {} {}; nothing orders the two (stream order, an event, a host "
      "synchronization, or the legacy stream's implicit ordering with blocking streams)",
      streams().describe(op.id), access, bytes, (void*)address, device_memory().describe(address),
      streams().describe(other), other_wrote ? "wrote" : "read");
}

}  // namespace

void BlockChecks::global_access(uintptr_t address, size_t bytes, AccessKind kind, const void* pc) {
  DeviceMemory& memory = device_memory();
  if (!memory.shadowed()) return;
  const Checks& on = on_;
  ByteState* state = memory.state(address);
  bool all_initialized = true;
  for (size_t i = 0; i < bytes; ++i) all_initialized &= state[i] == kInitialized;
  if (!all_initialized) {
    if (on.memcheck)
      for (size_t i = 0; i < bytes; ++i)
        if (state[i] == kUnallocated)
          return fail(Fault::OutOfBounds, fmt::format("{} {} {} bytes at {} ({}): {}", thread_name(thread_),
                                                      verb(kind), bytes, (void*)address, at(pc),
                                                      memory.describe(address + i)));
    if (on.initcheck && kind != AccessKind::Write)
      for (size_t i = 0; i < bytes; ++i)
        if (state[i] == kUninitialized)
          return fail(Fault::UninitializedRead,
                      fmt::format("{} {} {} bytes at {} ({}), {}, which nothing wrote", thread_name(thread_),
                                  verb(kind), bytes, (void*)address, at(pc), memory.describe(address + i)));
    if (kind != AccessKind::Read)
      for (size_t i = 0; i < bytes; ++i)
        if (state[i] == kUninitialized) state[i] = kInitialized;
  }
  if (!on.racecheck && !on.global_racecheck) return;
  const uint64_t me = launch_->op.id.packed();
  for (uintptr_t a = address & ~uintptr_t(3); a < address + bytes; a += 4) {
    GranuleShadow& g = *memory.granule(a);
    if (on.racecheck) {
      // Most accesses meet the same few earlier operations: remember those known to be ordered.
      const uint64_t other = kind == AccessKind::Read || g.reader_op == 0 || g.reader_op == me ? g.writer_op : 0;
      const bool known = other == 0 || other == me || other == ordered_ops_[0] || other == ordered_ops_[1] ||
                         other == ordered_ops_[2] || other == ordered_ops_[3];
      if (!known) {
        const OpId race = unordered_with(launch_->op, g, kind);
        if (race.seq)
          return fail(Fault::StreamRace, stream_race(launch_->op, race, g.writer_op == race.packed(),
                                                     kind == AccessKind::Read ? "reads" : "writes", bytes, address) +
                                             fmt::format(" ({} at {})", thread_name(thread_), at(pc)));
        if (other) ordered_ops_[(next_ordered_++) % 4] = other;
      } else if (kind != AccessKind::Read && g.reader_op != 0 && g.reader_op != me) {
        const OpId race = unordered_with(launch_->op, g, kind);
        if (race.seq)
          return fail(Fault::StreamRace, stream_race(launch_->op, race, g.writer_op == race.packed(), "writes",
                                                     bytes, address) +
                                             fmt::format(" ({} at {})", thread_name(thread_), at(pc)));
      }
      if (kind == AccessKind::Read) {
        if (g.reader_op != me) g.reader_op = me;
      } else {
        g.writer_op = me;
      }
    }
    if (on.global_racecheck && kind == AccessKind::Write) {
      if (g.launch == launch_->serial &&
          (g.block != uint32_t(block_) || (g.thread != thread_ && g.epoch == epoch_)))
        return fail(Fault::GlobalRace,
                    fmt::format("{} writes {} bytes at {} ({}, {}), which {} of block {} (linear) of this launch "
                                "wrote too (atomics are exempt)",
                                thread_name(thread_), bytes, (void*)address, memory.describe(address), at(pc),
                                thread_name(g.thread), g.block));
      g.launch = launch_->serial, g.block = uint32_t(block_), g.thread = uint16_t(thread_), g.epoch = epoch_;
    }
  }
}

std::string record_copy(const OpContext& op, void* dst, const void* src, size_t bytes, bool dst_device, bool src_device) {
  DeviceMemory& memory = device_memory();
  if (!memory.shadowed() || bytes == 0) return "";
  const bool racecheck = checks().racecheck;
  std::string race;
  auto track = [&](uintptr_t address, AccessKind kind) {
    for (uintptr_t a = address & ~uintptr_t(3); a < address + bytes; a += 4) {
      GranuleShadow& g = *memory.granule(a);
      if (racecheck && race.empty()) {
        const OpId other = unordered_with(op, g, kind);
        if (other.seq)
          race = stream_race(op, other, g.writer_op == other.packed(), kind == AccessKind::Read ? "reads" : "writes",
                             bytes, address);
      }
      record_op(op, g, kind);
    }
  };
  if (src_device && src) track(uintptr_t(src), AccessKind::Read);
  if (dst_device) {
    track(uintptr_t(dst), AccessKind::Write);
    if (src_device && src)
      std::memmove(memory.state(uintptr_t(dst)), memory.state(uintptr_t(src)), bytes);  // copies carry initializedness
    else
      std::memset(memory.state(uintptr_t(dst)), kInitialized, bytes);
  }
  return race.empty() ? "" : "racecheck: " + race;
}

}  // namespace elr::simt
