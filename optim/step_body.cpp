#include "optim/step_body.h"

#include <chrono>

namespace elr {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Installs an observer on the tape for one backward and removes it again, also on errors.
class ObserverScope {
 public:
  explicit ObserverScope(const autograd::Tape::Observer& observer) : installed_(observer != nullptr) {
    if (installed_) autograd::tape().set_observer(observer);
  }
  ~ObserverScope() {
    if (installed_) autograd::tape().set_observer(nullptr);
  }
  ObserverScope(const ObserverScope&) = delete;
  ObserverScope& operator=(const ObserverScope&) = delete;

 private:
  bool installed_;
};

}  // namespace

ops::LossResult forward_backward(Module& model, const Tensor& images, const Tensor& labels,
                                 const autograd::Tape::Observer& observer, StepTimes* times) {
  const auto start = Clock::now();
  autograd::tape().clear();
  ops::LossResult loss = ops::cross_entropy(model.forward(images), labels);
  const auto forward_end = Clock::now();
  {
    ObserverScope scope(observer);
    autograd::tape().backward(loss.loss);
  }
  if (times) {
    times->forward_s = std::chrono::duration<double>(forward_end - start).count();
    times->backward_s = seconds_since(forward_end);
  }
  return loss;
}

}  // namespace elr
