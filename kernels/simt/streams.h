// The emulated device's work queues: every stream is a queue of operations (launches, copies,
// memsets, event records, graph launches), and work on different streams runs in an order the
// schedule picks, constrained only by what CUDA guarantees: stream order, events waited on with
// cudaStreamWaitEvent, the legacy stream's implicit ordering with blocking streams (none with
// non-blocking ones), and the host's own synchronizations (an operation enqueued after the host
// waited for another comes after it). Deferred work runs when the host waits for it, or when the
// schedule decides: forward runs each operation as soon as it is enqueued (the synchronous order),
// reverse defers everything until forced and then runs the newest ready operation first, random
// runs ready operations at random points.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace elr::simt {

using StreamId = uint32_t;
constexpr StreamId kLegacyStream = 0;
constexpr StreamId kPerThreadStream = 1;  // cudaStreamPerThread: a blocking stream

// Operation `seq` of stream `stream` (1, 2, ...); seq 0 names no operation.
struct OpId {
  StreamId stream = 0;
  uint64_t seq = 0;
  uint64_t packed() const { return uint64_t(stream) << 44 | seq; }  // 0 for no operation
  static OpId unpack(uint64_t v) { return {StreamId(v >> 44), v & ((uint64_t(1) << 44) - 1)}; }
};

// What an operation comes after: for each stream, the last of its operations ordered before it.
class Clock {
 public:
  uint64_t get(StreamId stream) const;
  void set(StreamId stream, uint64_t seq);  // raises the entry to seq
  void join(const Clock& other);
  bool covers(OpId op) const { return op.seq == 0 || get(op.stream) >= op.seq; }
  const std::vector<std::pair<StreamId, uint64_t>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<StreamId, uint64_t>> entries_;  // sorted by stream
};

// The operation being executed, as the checks see it: accesses it makes are ordered after every
// operation its clock covers and unordered with the rest.
struct OpContext {
  OpId id;
  const Clock* clock = nullptr;
};

struct Work {
  std::string what;  // for reports: "kernel 'k' (launched at f.cu:12) on ...", "cudaMemcpy host-to-device ..."
  const void* caller = nullptr;  // the return address of the application's runtime call, if any
  std::function<void(const OpContext&)> run;
};

// `what`, and where the application called the runtime for it (from the debug info).
std::string describe(const std::string& what, const void* caller);

class Streams {
 public:
  Streams();
  std::recursive_mutex& mutex() { return mutex_; }

  StreamId create(bool blocking);
  void destroy(StreamId stream);  // runs its pending work first

  // Appends `work` to the stream; returns the operation's clock (it covers the operation itself).
  // The schedule may run ready work before this returns.
  Clock enqueue(StreamId stream, Work work);
  // The stream's next operation also comes after everything `after` covers (cudaStreamWaitEvent).
  void wait(StreamId stream, const Clock& after);

  // Clocks covering everything enqueued so far: on one stream (the legacy stream includes the
  // blocking streams it implicitly waits for), or on the whole device.
  Clock stream_clock(StreamId stream) const;
  Clock device_clock() const;

  bool complete(const Clock& target) const;
  // Runs operations until everything `target` covers has run, then the host has observed it:
  // later operations come after it.
  void host_wait(const Clock& target);
  // Runs one operation `target` still needs; false when it needs none.
  bool progress(const Clock& target);
  // Runs every pending operation (no ordering for the host: cudaFree's and teardown's drain).
  void drain();

  const Clock& host_clock() const { return host_; }
  std::string stream_name(StreamId stream) const;
  // The `what` of a recent operation. Safe while the host runs an operation (kernel threads
  // describe what they race with): it takes only the history's own lock.
  std::string describe(OpId op) const;

 private:
  struct Op {
    OpId id;
    uint64_t order;  // global submission order
    Clock clock;
    Work work;
  };
  struct Queue {
    bool blocking = true;
    bool live = true;
    uint64_t next_seq = 0, done_seq = 0;
    Clock last;           // clock of the last enqueued operation
    Clock pending_wait;   // joined into the next operation
    std::deque<Op> ops;   // not yet run, in stream order
  };

  bool ready(const Op& op) const;
  void run(StreamId stream);
  void schedule_after_enqueue();
  bool run_one_needed(const Clock& target);
  uint64_t next_random();

  mutable std::recursive_mutex mutex_;
  std::vector<Queue> queues_;  // by StreamId; destroyed streams stay (empty, complete)
  Clock host_;
  uint64_t order_ = 0;
  uint64_t rng_ = 0;
  std::string rng_schedule_;
  mutable std::mutex history_mutex_;
  std::unordered_map<uint64_t, std::pair<std::string, const void*>> history_;  // packed OpId -> what, caller
  std::deque<uint64_t> history_order_;                  // oldest first, bounded
};

Streams& streams();

}  // namespace elr::simt
