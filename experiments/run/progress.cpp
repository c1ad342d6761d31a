#include "experiments/run/progress.h"

#include <unistd.h>

#include <cstdio>
#include <exception>

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

PhaseLine::PhaseLine(std::string what, bool enabled, double delay_s, std::FILE* out)
    : what_(std::move(what)), delay_s_(delay_s), out_(out), tty_(::isatty(::fileno(out)) != 0),
      exceptions_at_start_(std::uncaught_exceptions()), start_(std::chrono::steady_clock::now()) {
  if (enabled) thread_ = std::thread([this] { show(); });
}

double PhaseLine::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void PhaseLine::show() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (wake_.wait_for(lock, std::chrono::duration<double>(delay_s_), [this] { return done_; })) return;
  shown_ = true;
  if (!tty_) {
    std::fprintf(out_, "%s...\n", what_.c_str());
    std::fflush(out_);
    return;
  }
  do {
    std::fprintf(out_, "\r\033[K%s... %s", what_.c_str(), format_duration(elapsed_seconds()).c_str());
    std::fflush(out_);
  } while (!wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return done_; }));
}

PhaseLine::~PhaseLine() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  wake_.notify_all();
  thread_.join();
  const double seconds = elapsed_seconds();
  const bool failed = std::uncaught_exceptions() > exceptions_at_start_;
  if (tty_ && shown_) std::fputs(failed ? "\n" : "\r\033[K", out_);
  if (!failed && seconds >= delay_s_) std::fprintf(out_, "%s: done in %.1fs\n", what_.c_str(), seconds);
  std::fflush(out_);
}

}  // namespace elr
