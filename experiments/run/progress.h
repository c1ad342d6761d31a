// Progress on long work: a live line on a terminal (rewritten in place), plain lines otherwise.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace elr {

class Progress {
 public:
  Progress(int64_t total, bool enabled);
  // Shows `text` for item `done` of total, with rate and ETA; throttled on a terminal, and every
  // ~5% of the work otherwise.
  void update(int64_t done, const std::string& text);
  void finish();  // ends the live line
  double elapsed_seconds() const;

 private:
  int64_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_;
  int64_t last_plain_ = -1;
  bool live_line_ = false;
};

// A line for one piece of work of unknown length (loading a data set, evaluating): nothing while it
// takes less than `delay_s`, then "<what>..." with the time so far (updated in place on a terminal),
// and "<what>: done in 3.2s" when it ends. A thread of its own keeps the line going, so the work
// itself needs no calls.
class PhaseLine {
 public:
  PhaseLine(std::string what, bool enabled, double delay_s = 1.0, std::FILE* out = stderr);
  ~PhaseLine();
  PhaseLine(const PhaseLine&) = delete;
  PhaseLine& operator=(const PhaseLine&) = delete;

 private:
  void show();  // the thread: waits out the delay, then keeps the line up to date
  double elapsed_seconds() const;

  std::string what_;
  double delay_s_;
  std::FILE* out_;
  bool tty_;
  int exceptions_at_start_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false, shown_ = false;
  std::thread thread_;
};

std::string format_duration(double seconds);  // "1m05s"

}  // namespace elr
