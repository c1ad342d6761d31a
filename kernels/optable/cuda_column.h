// The CUDA column of the op-case table, and runs of a case on the device. Built only into the CUDA
// kernel libraries (elr_cuda_kernels by nvcc, elr_cuda_kernels_simt on the CPU execution layer),
// which hold the entry points it calls: the CPU library and every program without CUDA kernels
// stay free of CUDA code, and calling the column there fails to link instead of at run time.
#pragma once
#include <vector>

#include "kernels/optable/op_case.h"

namespace elr::kernels {

// The case's CUDA entry on device buffers (args.stream, args.workspace, args.tensor_list set by
// DeviceRun), as an OpEntry.
void run_cuda(const OpCase& c, const OpArgs& a);

// The workspace the case's CUDA entry needs under the current tile and TF32 settings (0: none).
size_t cuda_workspace_bytes(const OpCase& c);

// Device buffers for runs of one case: inputs uploaded (host-side scalars stay on the host), outputs
// poisoned (NaN floats, -1 integers), the CUDA entry's workspace and, for the optimizer cases, the
// multi-tensor list over the w, g and v buffers.
class DeviceRun {
 public:
  DeviceRun(const OpCase& c, const std::vector<Values>& inputs, Stream stream = nullptr);
  ~DeviceRun();
  DeviceRun(const DeviceRun&) = delete;
  DeviceRun& operator=(const DeviceRun&) = delete;
  // Uploads the inputs (and the starting values of in/out tensors) again and poisons the outputs;
  // waits for the stream first.
  void reset(const std::vector<Values>& inputs);
  const OpArgs& args() const { return args_; }
  std::vector<Values> results() const;  // waits for the device; the written tensors widened

 private:
  void release();  // frees the device memory

  std::vector<TensorSpec> specs_;
  std::vector<std::vector<double>> host_;  // the on_host tensors
  void* workspace_ = nullptr;
  MultiTensorList list_;
  OpArgs args_;
};

// One run of `entry` on device buffers.
std::vector<Values> run_on_device(const OpCase& c, const OpEntry& entry, const std::vector<Values>& inputs,
                                  Stream stream = nullptr);

}  // namespace elr::kernels
