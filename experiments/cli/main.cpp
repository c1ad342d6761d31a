#include "engine/device.h"
#include "experiments/cli/cli.h"

#ifdef ELR_WITH_CUDA_BACKEND
#include "engine/cuda_backend/backend.h"
#endif

int main(int argc, char** argv) {
#ifdef ELR_WITH_CUDA_BACKEND
  elr::set_device_starter(elr::DeviceType::CUDA, &elr::cuda_backend::start);
#endif
  return elr::run_cli(argc, argv);
}
