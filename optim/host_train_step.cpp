#include "optim/host_train_step.h"

#include <chrono>

#include "engine/error.h"
#include "optim/data_parallel.h"

namespace elr {

HostTrainStep::HostTrainStep(Module& model, Sgd& sgd, const ScheduleConfig& schedule, const LrControlConfig& control,
                             double reference_elr, Communicator* ranks)
    : model_(model), sgd_(sgd), controller_(schedule, control), ranks_(ranks && ranks->size() > 1 ? ranks : nullptr) {
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
  if (ranks_) {
    const auto reduce_start = std::chrono::steady_clock::now();
    average_over_ranks(*ranks_, sgd_.params(), r.loss, r.correct);
    r.batch_size *= ranks_->size();
    times_.all_reduce_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - reduce_start).count();
  }
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
