// The body every training step shares, on the host and on a CUDA device: clear the tape, forward,
// cross-entropy loss, backward. Nothing in it waits for a device.
#pragma once
#include "engine/autograd.h"
#include "engine/ops.h"
#include "layers/module.h"

namespace elr {

// Seconds of a host step's phases (the CPU benchmark's columns). A device step returns before its
// work is done, so it is not timed this way.
struct StepTimes {
  double forward_s = 0;   // forward + loss
  double backward_s = 0;
  double stats_s = 0;     // statistics + LR control (the first part of the update)
  double update_s = 0;    // statistics, LR control and the SGD update
  double all_reduce_s = 0;  // averaging gradients, loss and counts over the ranks (0 for one process)
};

// Runs the forward and the loss of (images, labels), on the model's device, on a cleared tape, then
// the backward, which adds into the parameters' gradients. `observer`, when given, watches the
// backward and is removed after it; `times`, when given, receives forward_s and backward_s.
ops::LossResult forward_backward(Module& model, const Tensor& images, const Tensor& labels,
                                 const autograd::Tape::Observer& observer = nullptr, StepTimes* times = nullptr);

}  // namespace elr
