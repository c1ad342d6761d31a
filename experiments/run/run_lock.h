// RUN/lock: one process at a time writes a run directory. The lock is an flock(2) on the file, so
// the system lets go of it when its process ends, however it ends; the file's text (process id,
// host, start time) names the holder in the error the next writer gets. A lock file left behind by
// a process of this host that ended without removing it is taken over, with a message.
#pragma once
#include <string>

namespace elr {

constexpr const char* kLockFile = "lock";

class RunLock {
 public:
  // UserError naming the holder when another process holds the lock of `run_dir` (a folder that exists).
  explicit RunLock(const std::string& run_dir);
  ~RunLock();  // removes the lock file
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace elr
