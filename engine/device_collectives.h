// Collectives of a data-parallel run on CUDA devices, one GPU per rank: NCCL all-reduces that the
// CUDA backend registers where it was built with NCCL (engine/cuda_backend/nccl_collectives.cpp), so
// the engine itself links neither CUDA nor NCCL. Nothing here waits for a device: each call enqueues
// its all-reduces on a stream of their own, after the engine stream's work so far, so they run
// while the engine stream goes on with the backward; finish() makes the engine stream wait for them.
// Every rank must make the same calls in the same order.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/comm.h"

namespace elr {

class DeviceCollectives {
 public:
  struct Buffer {
    float* data;  // on the device
    int64_t count;
  };
  virtual ~DeviceCollectives() = default;
  virtual int ranks() const = 0;
  // Replaces each buffer with its mean over the ranks, in place (one bucket of gradients).
  virtual void average(const std::vector<Buffer>& buffers) = 0;
  // Replaces `loss` (one float) with its mean over the ranks and `correct` (one int64) with the sum,
  // then makes the engine stream wait for every all-reduce enqueued so far.
  virtual void finish(float* loss, int64_t* correct) = 0;
};

using DeviceCollectivesFactory = std::unique_ptr<DeviceCollectives> (*)(Communicator& ranks);
void register_device_collectives(DeviceCollectivesFactory factory);

// Selects this rank's GPU (its local rank among the host's GPUs) and joins the ranks' NCCL
// communicator: call before anything is allocated on the device. UserError in a build without NCCL.
std::unique_ptr<DeviceCollectives> make_device_collectives(Communicator& ranks);

}  // namespace elr
