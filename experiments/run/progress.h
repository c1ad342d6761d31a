// Progress on long work: a live line on a terminal (rewritten in place), plain lines otherwise.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

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

std::string format_duration(double seconds);  // "1m05s"

}  // namespace elr
