// The training step on the CPU: the shared body, then Sgd::step with the host's LrController. Its
// record is on the host when enqueue() returns. It also gives a batch's gradients without an update
// (explode's measurement at initialization) and the times of its phases (the CPU benchmark).
#pragma once
#include <vector>

#include "engine/autograd.h"
#include "engine/comm.h"
#include "optim/step_body.h"
#include "optim/train_step.h"

namespace elr {

class HostTrainStep final : public TrainStep {
 public:
  // `sgd` holds the parameters (on the CPU) and the momentum buffers; the next step is
  // sgd.steps_taken(); `reference_elr` is the uniform-elr reference (0: set at the first step).
  // With `ranks` (more than one), each batch is this rank's share of the global batch, and the
  // gradients, loss and counts are averaged over the ranks before the update (optim/data_parallel.h).
  HostTrainStep(Module& model, Sgd& sgd, const ScheduleConfig& schedule = {}, const LrControlConfig& control = {},
                double reference_elr = 0, Communicator* ranks = nullptr);

  void enqueue(const Batch& batch) override;
  std::vector<StepRecord> take_records(bool wait) override;
  double reference_elr() override { return controller_.reference_elr(); }
  std::string mode() const override { return "cpu"; }
  std::string graph_note() const override { return ""; }

  // Forward, loss and backward of the batch without an update: afterwards every parameter's
  // .grad() holds this batch's gradient alone. `observer`, when given, watches the backward.
  void gradients(const Batch& batch, const autograd::Tape::Observer& observer = nullptr);
  // The phase times of the last enqueue().
  const StepTimes& last_times() const { return times_; }

 private:
  Module& model_;
  Sgd& sgd_;
  LrController controller_;
  Communicator* ranks_;  // null: this process alone
  std::vector<StepRecord> ready_;
  StepTimes times_;
};

}  // namespace elr
