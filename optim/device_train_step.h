// The training step (TrainStep) on a CUDA device with no host synchronization inside it: the batch goes in
// through pinned staging buffers, forward, loss, backward, statistics, LR control, the SGD update
// and the step's record (loss, correct count, learning rates, per-layer statistics) all stay on
// the device; the records reach the host through a ring buffer copied asynchronously every few
// steps. After one eager warm-up step the step is captured once as a CUDA graph and replayed
// (the model is static), unless graphs are turned off or the capture fails (then it runs eagerly
// and says why).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"
#include "optim/train_step.h"

namespace elr {

class CudaTrainStep final : public TrainStep {
 public:
  // `sgd` holds the parameters (on the CUDA device) and the momentum buffers; `first_step` is the
  // step the next enqueue() runs (> 0 on resume); `reference_elr` the uniform-elr target (0: set
  // on the first step). `schedule.total_steps` sizes the device's table of scheduled LRs.
  CudaTrainStep(Module& model, Sgd& sgd, const ScheduleConfig& schedule, const LrControlConfig& control,
                double reference_elr, int64_t first_step, const Shape& image_shape, CudaStepOptions options = {});
  ~CudaTrainStep() override;
  CudaTrainStep(const CudaTrainStep&) = delete;
  CudaTrainStep& operator=(const CudaTrainStep&) = delete;

  // Copies the batch (host tensors of the constructor's image shape) to the device and enqueues
  // the step, or replays its graph. Returns without waiting for the device.
  void enqueue(const Batch& batch) override;
  // The records of finished steps, in step order. Without `wait`, only those already copied to the
  // host (every drain_every steps); with it, every enqueued step's (synchronizes).
  std::vector<StepRecord> take_records(bool wait) override;
  // The uniform-elr reference ELR as the device has it (synchronizes; for checkpoints).
  double reference_elr() override;
  // "cuda graph" while the step replays a captured graph, else "cuda eager".
  std::string mode() const override;
  std::string graph_note() const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace elr
