#include "experiments/run/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace elr {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const int s = static_cast<int>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

Progress::Progress(int64_t total, bool enabled)
    : total_(total), enabled_(enabled), tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, const std::string& text) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (total_ - done) / rate : -1;
  const std::string line =
      fmt::format("[{}/{}] {} | {:.2f} it/s, ETA {}", done, total_, text, rate, format_duration(eta));
  if (tty_) {
    if (done < total_ && std::chrono::duration<double>(now - last_).count() < 0.2) return;
    last_ = now;
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    live_line_ = true;
  } else {
    const int64_t every = std::max<int64_t>(1, total_ / 20);
    if (done != total_ && done / every == last_plain_) return;
    last_plain_ = done / every;
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (live_line_) std::fputc('\n', stderr);
  live_line_ = false;
}

}  // namespace elr
