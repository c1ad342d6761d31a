// A row of the GPU kernel suite from an op case: its device buffers, its reference (kernels/optable),
// then RowRunner::run.
#pragma once
#include "bench/gpu/gpu_bench.h"
#include "bench/gpu/row_harness.h"

namespace elr::bench::gpu {

// Validates `ours` (and the vendor peer, if any) on the case at its shape, then times both.
KernelRow case_row(RowRunner& rr, const kernels::NetworkCase& nc, const kernels::OpEntry& ours,
                   const VendorPeer& vendor);

}  // namespace elr::bench::gpu
