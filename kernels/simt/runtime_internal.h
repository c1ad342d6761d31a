// What the scheduler needs from the CPU runtime API (kernels/simt/runtime_api.cpp).
#pragma once
#include <functional>

#include <driver_types.h>

namespace elr::simt {

// If `stream` is capturing a graph, records `work` as the graph's next node and returns true.
bool record_if_capturing(cudaStream_t stream, std::function<void()> work);
void set_last_error(cudaError_t error);

}  // namespace elr::simt
