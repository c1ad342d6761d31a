#include "optim/train_step.h"

#include "engine/error.h"
#include "optim/device_train_step.h"
#include "optim/host_train_step.h"

namespace elr {

std::unique_ptr<TrainStep> make_train_step(Module& model, Sgd& sgd, const ScheduleConfig& schedule,
                                           const LrControlConfig& control, double reference_elr,
                                           const Shape& image_shape, CudaStepOptions cuda, Communicator* ranks) {
  ELR_CHECK(!sgd.params().empty(), "make_train_step: the model has no parameters");
  const Device device = sgd.params()[0]->value.device();
  if (device.is_cuda()) {
    ELR_CHECK(!ranks || ranks->size() == 1 || cuda.collectives,
              "make_train_step: a CUDA step on {} ranks needs the device collectives", ranks ? ranks->size() : 1);
    return std::make_unique<CudaTrainStep>(model, sgd, schedule, control, reference_elr, sgd.steps_taken(),
                                           image_shape, cuda);
  }
  ELR_CHECK(device.is_cpu(), "make_train_step: no training step for parameters on {}", device.str());
  return std::make_unique<HostTrainStep>(model, sgd, schedule, control, reference_elr, ranks);
}

}  // namespace elr
