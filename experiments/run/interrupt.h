// SIGINT (Ctrl-C) and SIGTERM during training. While an InterruptCatcher lives, the first of them
// only records the signal: the train loop finishes the step it is on, writes a checkpoint and a
// summary marked interrupted, and the process exits with 128 + the signal's number (130, 143). A
// second signal ends the process at once, as usual.
#pragma once

namespace elr {

class InterruptCatcher {
 public:
  InterruptCatcher();   // installs the handlers
  ~InterruptCatcher();  // puts the previous ones back
  InterruptCatcher(const InterruptCatcher&) = delete;
  InterruptCatcher& operator=(const InterruptCatcher&) = delete;
  int signal() const;   // the signal received, 0 while none
};

const char* signal_name(int signal);  // "SIGINT", "SIGTERM"
inline int interrupted_exit_code(int signal) { return 128 + signal; }

}  // namespace elr
