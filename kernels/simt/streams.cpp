#include "kernels/simt/streams.h"

#include <algorithm>

#include <fmt/format.h>

#include "kernels/simt/control.h"
#include "kernels/simt/executable.h"

namespace elr::simt {

// ---- clocks ------------------------------------------------------------------------------------
uint64_t Clock::get(StreamId stream) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), std::make_pair(stream, uint64_t(0)));
  return it != entries_.end() && it->first == stream ? it->second : 0;
}

void Clock::set(StreamId stream, uint64_t seq) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), std::make_pair(stream, uint64_t(0)));
  if (it != entries_.end() && it->first == stream)
    it->second = std::max(it->second, seq);
  else
    entries_.insert(it, {stream, seq});
}

void Clock::join(const Clock& other) {
  for (const auto& [stream, seq] : other.entries_) set(stream, seq);
}

// ---- the queues --------------------------------------------------------------------------------
Streams::Streams() {
  queues_.resize(2);                 // the legacy stream and cudaStreamPerThread, both blocking
}

StreamId Streams::create(bool blocking) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  queues_.emplace_back();
  queues_.back().blocking = blocking;
  return StreamId(queues_.size() - 1);
}

void Streams::destroy(StreamId stream) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  // CUDA lets the work finish after cudaStreamDestroy returns; running it now is one such order.
  const Clock all = queues_[stream].last;
  while (run_one_needed(all)) {
  }
  queues_[stream].live = false;
}

std::string Streams::stream_name(StreamId stream) const {
  if (stream == kLegacyStream) return "the legacy stream";
  if (stream == kPerThreadStream) return "the per-thread default stream";
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  return fmt::format("{} stream {}", queues_[stream].blocking ? "blocking" : "non-blocking", stream);
}

Clock Streams::enqueue(StreamId stream, Work work) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Queue& q = queues_[stream];
  Op op;
  op.clock = q.last;
  op.clock.join(q.pending_wait);
  op.clock.join(host_);
  q.pending_wait = Clock{};
  // The legacy stream waits for the blocking streams' earlier work, and they wait for its.
  if (stream == kLegacyStream) {
    for (size_t s = 1; s < queues_.size(); ++s)
      if (queues_[s].blocking && queues_[s].live) op.clock.join(queues_[s].last);
  } else if (q.blocking) {
    op.clock.join(queues_[kLegacyStream].last);
  }
  op.id = OpId{stream, ++q.next_seq};
  op.clock.set(stream, op.id.seq);
  op.order = ++order_;
  op.work = std::move(work);
  {
    std::lock_guard<std::mutex> history_lock(history_mutex_);
    history_[op.id.packed()] = {op.work.what, op.work.caller};
    history_order_.push_back(op.id.packed());
    if (history_order_.size() > 4096) {
      history_.erase(history_order_.front());
      history_order_.pop_front();
    }
  }
  q.last = op.clock;
  Clock result = op.clock;
  q.ops.push_back(std::move(op));
  schedule_after_enqueue();
  return result;
}

void Streams::wait(StreamId stream, const Clock& after) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  queues_[stream].pending_wait.join(after);
}

Clock Streams::stream_clock(StreamId stream) const {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Clock c = queues_[stream].last;
  if (stream == kLegacyStream)  // synchronizing the legacy stream waits for the blocking streams too
    for (size_t s = 1; s < queues_.size(); ++s)
      if (queues_[s].blocking) c.join(queues_[s].last);
  return c;
}

Clock Streams::device_clock() const {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Clock c;
  for (const Queue& q : queues_) c.join(q.last);
  return c;
}

bool Streams::complete(const Clock& target) const {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  for (const auto& [stream, seq] : target.entries())
    if (queues_[stream].done_seq < seq) return false;
  return true;
}

bool Streams::ready(const Op& op) const {
  for (const auto& [stream, seq] : op.clock.entries())
    if (stream != op.id.stream && queues_[stream].done_seq < seq) return false;
  return true;
}

void Streams::run(StreamId stream) {
  Queue& q = queues_[stream];
  Op op = std::move(q.ops.front());
  q.ops.pop_front();
  q.done_seq = op.id.seq;  // before running: a fault thrown by the work leaves the queues consistent
  op.work.run(OpContext{op.id, &op.clock});
}

uint64_t Streams::next_random() {
  const Schedule schedule = current_schedule();
  if (schedule.str() != rng_schedule_) {
    rng_schedule_ = schedule.str();
    rng_ = schedule.seed * 0x9e3779b97f4a7c15ull + 0x51ed27;
  }
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void Streams::schedule_after_enqueue() {
  const Schedule::Kind kind = current_schedule().kind;
  if (kind == Schedule::Kind::Reverse) return;  // everything waits until something forces it
  for (;;) {
    if (kind == Schedule::Kind::Random && next_random() % 2 == 0) return;
    // The ready heads, oldest first.
    std::vector<std::pair<uint64_t, StreamId>> heads;
    for (size_t s = 0; s < queues_.size(); ++s)
      if (!queues_[s].ops.empty() && ready(queues_[s].ops.front()))
        heads.push_back({queues_[s].ops.front().order, StreamId(s)});
    if (heads.empty()) return;
    std::sort(heads.begin(), heads.end());
    run(kind == Schedule::Kind::Forward ? heads.front().second : heads[next_random() % heads.size()].second);
  }
}

bool Streams::run_one_needed(const Clock& target) {
  // The operations `target` needs form a prefix of each stream named in it; every dependency of
  // one of them is needed too, so some needed head is always ready.
  std::vector<std::pair<uint64_t, StreamId>> heads;
  for (const auto& [stream, seq] : target.entries()) {
    const Queue& q = queues_[stream];
    if (q.done_seq < seq && !q.ops.empty() && ready(q.ops.front())) heads.push_back({q.ops.front().order, stream});
  }
  if (heads.empty()) return false;
  std::sort(heads.begin(), heads.end());
  switch (current_schedule().kind) {
    case Schedule::Kind::Forward: run(heads.front().second); break;
    case Schedule::Kind::Reverse: run(heads.back().second); break;
    case Schedule::Kind::Random: run(heads[next_random() % heads.size()].second); break;
  }
  return true;
}

void Streams::host_wait(const Clock& target) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  while (run_one_needed(target)) {
  }
  host_.join(target);
}

bool Streams::progress(const Clock& target) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  return run_one_needed(target);
}

void Streams::drain() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Clock all;
  for (const Queue& q : queues_) all.join(q.last);
  while (run_one_needed(all)) {
  }
}

std::string Streams::describe(OpId op) const {
  std::lock_guard<std::mutex> lock(history_mutex_);
  auto it = history_.find(op.packed());
  return it != history_.end() ? simt::describe(it->second.first, it->second.second)
                              : fmt::format("operation {} of stream {}", op.seq, op.stream);
}

std::string describe(const std::string& what, const void* caller) {
  if (!caller) return what;
  return what + " (called at " + source_location(static_cast<const char*>(caller) - 1) + ")";
}

Streams& streams() {
  static Streams* s = new Streams;  // outlives static destructors that free device memory
  return *s;
}

}  // namespace elr::simt
