// A fixed team of threads that runs one loop at a time: the image folder's decoding. The calling
// thread takes part, so a pool of one thread runs everything on the caller.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace elr {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);  // 0: one per core
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // Calls body(i) for every i in [0, count), spread over the threads, and returns when all are
  // done. When calls throw, rethrows the exception of the lowest i. One loop at a time: callers
  // from several threads take turns.
  void run(int64_t count, const std::function<void(int64_t)>& body);

 private:
  void work();  // takes indices of the current loop until none is left
  void worker_loop();

  std::mutex run_mutex_;  // one loop at a time
  std::mutex mutex_;
  std::condition_variable start_, done_;
  uint64_t generation_ = 0;  // loops started
  int busy_ = 0;             // workers still in the current loop
  bool stop_ = false;
  // The current loop.
  const std::function<void(int64_t)>* body_ = nullptr;
  int64_t count_ = 0, next_ = 0;
  int64_t failed_index_ = -1;
  std::exception_ptr error_;
  std::vector<std::thread> workers_;
};

}  // namespace elr
