#include "optim/host_train_step.h"

#include <chrono>

#include "engine/error.h"

namespace elr {

HostTrainStep::HostTrainStep(Module& model, Sgd& sgd, const ScheduleConfig& schedule, const LrControlConfig& control,
                             double reference_elr)
    : model_(model), sgd_(sgd), controller_(schedule, control) {
  ELR_CHECK(sgd.params().empty() || sgd.params()[0]->value.device().is_cpu(),
            "HostTrainStep: the parameters are on {}, not the CPU", sgd.params()[0]->value.device().str());
  controller_.set_reference_elr(reference_elr);
}

void HostTrainStep::enqueue(const Batch& batch) {
  StepRecord r;
  r.step = sgd_.steps_taken();
  r.epoch = batch.epoch;
  r.batch_size = batch.labels.numel();
  const ops::LossResult loss = forward_backward(model_, batch.images, batch.labels, nullptr, &times_);
  r.loss = loss.loss.to_vector()[0];
  r.correct = loss.correct_on_host();
  const auto update_start = std::chrono::steady_clock::now();
  r.layers = sgd_.step(controller_, r.global_lr, &times_.stats_s);
  times_.update_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - update_start).count();
  ready_.push_back(std::move(r));
}

std::vector<StepRecord> HostTrainStep::take_records(bool) {
  std::vector<StepRecord> out;
  out.swap(ready_);
  return out;
}

void HostTrainStep::gradients(const Batch& batch, const autograd::Tape::Observer& observer) {
  for (Parameter* p : sgd_.params()) p->value.reset_grad();
  forward_backward(model_, batch.images, batch.labels, observer);
}

}  // namespace elr
