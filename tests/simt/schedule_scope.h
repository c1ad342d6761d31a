// Runs a scope under a given CPU-layer schedule and worker count, restoring the previous ones.
#pragma once
#include <string>

#include "kernels/simt/control.h"

namespace elr::simt_tests {

class ScheduleScope {
 public:
  ScheduleScope(const std::string& schedule, int workers)
      : saved_(elr::simt::current_schedule()), saved_workers_(elr::simt::num_workers()) {
    elr::simt::set_schedule(elr::simt::Schedule::parse(schedule));
    elr::simt::set_num_workers(workers);
  }
  ~ScheduleScope() {
    elr::simt::set_schedule(saved_);
    elr::simt::set_num_workers(saved_workers_);
  }
  ScheduleScope(const ScheduleScope&) = delete;
  ScheduleScope& operator=(const ScheduleScope&) = delete;

 private:
  elr::simt::Schedule saved_;
  int saved_workers_;
};

}  // namespace elr::simt_tests
