#include "experiments/run/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <cstring>

namespace elr {

namespace {

volatile sig_atomic_t g_signal = 0;
struct sigaction g_previous_int, g_previous_term;

void on_signal(int sig) {
  g_signal = sig;
  // Only async-signal-safe calls here.
  const char* msg = sig == SIGINT ? "\nelrscope: SIGINT: stopping after this step (again to stop at once)\n"
                                  : "\nelrscope: SIGTERM: stopping after this step (again to stop at once)\n";
  const ssize_t ignored = ::write(STDERR_FILENO, msg, std::strlen(msg));
  (void)ignored;
}

}  // namespace

InterruptCatcher::InterruptCatcher() {
  g_signal = 0;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // the second signal has its default effect
  ::sigaction(SIGINT, &sa, &g_previous_int);
  ::sigaction(SIGTERM, &sa, &g_previous_term);
}

InterruptCatcher::~InterruptCatcher() {
  ::sigaction(SIGINT, &g_previous_int, nullptr);
  ::sigaction(SIGTERM, &g_previous_term, nullptr);
}

int InterruptCatcher::signal() const { return g_signal; }

const char* signal_name(int signal) { return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal"; }

}  // namespace elr
