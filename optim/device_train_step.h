// The training step on a CUDA device with no host synchronization inside it: the batch goes in
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
#include "optim/batch.h"
#include "optim/lr_control.h"
#include "optim/sgd.h"
#include "optim/step_record.h"

namespace elr {

struct CudaStepOptions {
  bool cuda_graph = true;   // capture the step after the warm-up step and replay it
  int drain_every = 16;     // records are copied to the host every this many steps
};

class CudaTrainStep {
 public:
  // `sgd` holds the parameters (on the CUDA device) and the momentum buffers; `first_step` is the
  // step the next enqueue() runs (> 0 on resume); `reference_elr` the uniform-elr target (0: set
  // on the first step). `schedule.total_steps` sizes the device's table of scheduled LRs.
  CudaTrainStep(Module& model, Sgd& sgd, const ScheduleConfig& schedule, const LrControlConfig& control,
                double reference_elr, int64_t first_step, const Shape& image_shape, CudaStepOptions options = {});
  ~CudaTrainStep();
  CudaTrainStep(const CudaTrainStep&) = delete;
  CudaTrainStep& operator=(const CudaTrainStep&) = delete;

  // Copies the batch (host tensors of the constructor's image shape) to the device and enqueues
  // the step, or replays its graph. Returns without waiting for the device.
  void enqueue(const Batch& batch);
  // The records of finished steps, in step order. Without `wait`, only those already copied to the
  // host (every drain_every steps); with it, every enqueued step's (synchronizes).
  std::vector<StepRecord> take_records(bool wait);
  // The uniform-elr reference ELR as the device has it (synchronizes; for checkpoints).
  double reference_elr();

  bool graph_active() const;              // the step replays a captured graph
  const std::string& graph_note() const;  // why there is no graph ("" while there is or may be one)

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace elr
