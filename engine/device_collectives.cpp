#include "engine/device_collectives.h"

#include "engine/error.h"

namespace elr {

namespace {
DeviceCollectivesFactory g_factory = nullptr;
}  // namespace

void register_device_collectives(DeviceCollectivesFactory factory) { g_factory = factory; }

std::unique_ptr<DeviceCollectives> make_device_collectives(Communicator& ranks) {
  if (!g_factory)
    throw UserError(
        "--device cuda on several ranks needs NCCL, and this elrscope was built without it (docs/scale.md: NCCL from "
        "the system or pip's nvidia-nccl package)");
  return g_factory(ranks);
}

}  // namespace elr
