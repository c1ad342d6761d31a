// The optimizer half of a training step on a CUDA device, enqueued without waiting for the
// device: per-layer statistics, LR control and the SGD update as multi-tensor kernels, then the
// step's record into a device ring buffer. Everything a CUDA graph of the step needs stays at a
// fixed address: the gradients live in buffers kept across steps (the backward overwrites them),
// the scheduled LRs sit in a device table indexed by a device step counter.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "kernels/kernels.h"
#include "optim/lr_control.h"
#include "optim/sgd.h"
#include "optim/step_record.h"

namespace elr {

class DeviceSgdStep {
 public:
  // `sgd`'s parameters are on the CUDA device; `first_step` is the next step's index (the
  // schedule's row and the record's step); `reference_elr` the uniform-elr target (0: frozen at the
  // first step from its statistics). Uploads its tables synchronously (setup, not in a step).
  DeviceSgdStep(Sgd& sgd, const ScheduleConfig& schedule, const LrControlConfig& control, double reference_elr,
                int64_t first_step, int ring_slots);
  ~DeviceSgdStep();
  DeviceSgdStep(const DeviceSgdStep&) = delete;
  DeviceSgdStep& operator=(const DeviceSgdStep&) = delete;

  // Before the backward: the kept gradient buffers are to be overwritten.
  void prepare_gradients();
  // After the backward: zeroes buffers no gradient reached, then enqueues statistics, LR control,
  // the update and the record of this step (loss: one float, correct: one int64, on the device).
  void enqueue(const float* loss, const int64_t* correct);

  const double* ring() const { return static_cast<const double*>(ring_.raw()); }
  int ring_slots() const { return ring_slots_; }
  int record_doubles() const { return kernels::step_record_doubles(static_cast<int>(params_.size())); }
  // A record copied from the ring (record_doubles() values) as the host's StepRecord (no epoch).
  StepRecord decode(const double* slot, int64_t batch_size) const;
  double reference_elr() const;  // reads the device (synchronizes)

 private:
  Sgd& sgd_;
  std::vector<Parameter*> params_;
  kernels::MultiTensorList list_{};
  kernels::LrControlArgs control_args_;
  kernels::SgdParams sgd_params_;
  int ring_slots_;
  // Device arrays (raw storage in i64 tensors).
  Tensor flags_, schedule_, step_, reference_elr_, stats_, lrs_, dw2_, global_lr_, ring_;
};

}  // namespace elr
