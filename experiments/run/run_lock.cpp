#include "experiments/run/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace elr {

namespace {

std::string this_host() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

std::string read_text(int fd) {
  std::string text;
  char buf[512];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  return text;
}

// The holder's record; an empty object when the text is not one.
nlohmann::json parse_record(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : nlohmann::json::object();
}

std::string describe(const nlohmann::json& r) {
  if (!r.contains("pid")) return "an unknown process";
  return fmt::format("process {} on host {}, started {}", r.value("pid", 0), r.value("host", std::string("?")),
                     r.value("started", std::string("?")));
}

bool same_file(int fd, const std::string& path) {
  struct stat open_file, named;
  return ::fstat(fd, &open_file) == 0 && ::stat(path.c_str(), &named) == 0 && open_file.st_dev == named.st_dev &&
         open_file.st_ino == named.st_ino;
}

}  // namespace

RunLock::RunLock(const std::string& run_dir) : path_(run_dir + "/" + kLockFile) {
  // The holder removes the file when it ends: lock the file that the path still names.
  for (;;) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw UserError(fmt::format("cannot create the lock file '{}': {}", path_, std::strerror(errno)));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const nlohmann::json holder = parse_record(read_text(fd_));
      ::close(fd_);
      if (err == EWOULDBLOCK)
        throw UserError(fmt::format("'{}' is in use by {} (lock file '{}'); wait for it to end, or choose another "
                                    "folder",
                                    run_dir, describe(holder), path_));
      throw UserError(fmt::format("cannot lock '{}': {}", path_, std::strerror(err)));
    }
    if (same_file(fd_, path_)) break;
    ::close(fd_);
  }
  const std::string host = this_host();
  const nlohmann::json left = parse_record(read_text(fd_));
  if (!left.empty()) {
    // Nobody holds the lock, so its process has ended; on another host that is not certain (its
    // file system may not share locks), so only this host's are taken over.
    if (left.value("host", std::string()) != host) {
      ::close(fd_);
      fd_ = -1;
      throw UserError(fmt::format("'{}' was locked by {}; if that run is no longer running, delete '{}'", run_dir,
                                  describe(left), path_));
    }
    std::fprintf(stderr, "elrscope: taking over the lock of %s, which ended without releasing it ('%s')\n",
                 describe(left).c_str(), path_.c_str());
  }
  const std::time_t now = std::time(nullptr);
  char started[32];
  std::strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  const std::string record =
      nlohmann::json{{"pid", static_cast<int64_t>(::getpid())}, {"host", host}, {"started", started}}.dump() + "\n";
  const bool written = ::ftruncate(fd_, 0) == 0 &&
                       ::pwrite(fd_, record.data(), record.size(), 0) == static_cast<ssize_t>(record.size());
  if (!written) {
    const int err = errno;
    ::unlink(path_.c_str());
    ::close(fd_);
    fd_ = -1;
    throw UserError(fmt::format("cannot write the lock file '{}': {}", path_, std::strerror(err)));
  }
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still held: the next writer never sees a removed file as free
  ::close(fd_);
}

}  // namespace elr
