// One training step behind one interface: forward, loss, backward, per-layer statistics, LR control
// and the SGD update of one batch, and the step's record for the logs. The host step
// (optim/host_train_step.h) runs it on the CPU; the device step (optim/device_train_step.h) enqueues
// it on a CUDA device. Both run the same body (optim/step_body.h) and the same LR-control rule
// (kernels/lr_control_rule.h); make_train_step picks one from where the parameters are.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/comm.h"
#include "engine/device_collectives.h"
#include "layers/module.h"
#include "optim/batch.h"
#include "optim/lr_control.h"
#include "optim/sgd.h"
#include "optim/step_record.h"

namespace elr {

// How the step runs on a CUDA device (the host step has no such choices).
struct CudaStepOptions {
  bool cuda_graph = true;   // capture the step after the warm-up step and replay it
  int drain_every = 16;     // records are copied to the host every this many steps
  // Several ranks: the NCCL all-reduces of the gradients (bucketed, overlapping the backward), the
  // loss and the counts. Null: this process alone.
  DeviceCollectives* collectives = nullptr;
};

class TrainStep {
 public:
  virtual ~TrainStep() = default;
  // One step on the batch (host tensors of the step's image shape). The host step has finished it
  // on return; the device step returns without waiting for the device.
  virtual void enqueue(const Batch& batch) = 0;
  // The records of finished steps, in step order. Without `wait`, those already on the host (the
  // host step: every step; the device step: every few steps); with it, every enqueued step's.
  virtual std::vector<StepRecord> take_records(bool wait) = 0;
  // The uniform-elr reference ELR, for checkpoints (the device step synchronizes).
  virtual double reference_elr() = 0;
  // How the steps run: "cpu", "cuda graph" or "cuda eager" (summary.json's step_mode).
  virtual std::string mode() const = 0;
  // Why a device step runs without a CUDA graph: "" while it has one or may still get one, and on
  // the host.
  virtual std::string graph_note() const = 0;
};

// The step for the parameters' device, chosen here once: the host step on the CPU, CudaTrainStep
// on a CUDA device. The first step is sgd.steps_taken() (> 0 once a checkpoint is loaded);
// `reference_elr` is the uniform-elr reference to start from (control.target_elr on a fresh run, 0:
// set at the first step); `image_shape` is every batch's [B, C, H, W]. With `ranks` (more than one),
// B is this rank's share of the global batch and the step averages the gradients over the ranks
// before its statistics (docs/scale.md).
std::unique_ptr<TrainStep> make_train_step(Module& model, Sgd& sgd, const ScheduleConfig& schedule,
                                           const LrControlConfig& control, double reference_elr,
                                           const Shape& image_shape, CudaStepOptions cuda = {},
                                           Communicator* ranks = nullptr);

}  // namespace elr
