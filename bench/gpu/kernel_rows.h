// The rows of the GPU kernel suite, one function per operation: inputs, device buffers, the CPU
// reference (the engine's CPU kernels in double, or the naive conv oracle), then RowRunner::run.
#pragma once
#include "bench/gpu/gpu_bench.h"
#include "bench/gpu/row_harness.h"

namespace elr::bench::gpu {

// Conv: outputs of the first and last image against the double oracle (the weight gradient with dy
// nonzero on those two images only, so the oracle is exact at any batch); timed with dense inputs.
GpuKernelRow conv_forward_row(RowRunner& rr, const ShapeUse<Conv2dShape>& u, const ConvForwardCuda& ours,
                              const ConvForwardCuda& vendor, const std::string& vendor_name);
GpuKernelRow conv_backward_data_row(RowRunner& rr, const ShapeUse<Conv2dShape>& u, const ConvBackwardDataCuda& ours,
                                    const ConvBackwardDataCuda& vendor, const std::string& vendor_name);
GpuKernelRow conv_backward_weight_row(RowRunner& rr, const ShapeUse<Conv2dShape>& u,
                                      const ConvBackwardWeightCuda& ours, const ConvBackwardWeightCuda& vendor,
                                      const std::string& vendor_name);
// Everything else: every output against the CPU kernel run in double.
GpuKernelRow bn_forward_row(RowRunner& rr, const BnUse& u, const BnForwardCuda& ours, const BnForwardCuda& vendor,
                            const std::string& vendor_name);
GpuKernelRow bn_backward_row(RowRunner& rr, const BnUse& u, const BnBackwardCuda& ours, const BnBackwardCuda& vendor,
                             const std::string& vendor_name);
GpuKernelRow maxpool_forward_row(RowRunner& rr, const ShapeUse<PoolShape>& u, const MaxPoolForwardCuda& ours);
GpuKernelRow maxpool_backward_row(RowRunner& rr, const ShapeUse<PoolShape>& u, const MaxPoolBackwardCuda& ours);
GpuKernelRow avgpool_forward_row(RowRunner& rr, const ShapeUse<PoolShape>& u, const AvgPoolForwardCuda& ours);
GpuKernelRow avgpool_backward_row(RowRunner& rr, const ShapeUse<PoolShape>& u, const AvgPoolBackwardCuda& ours);
GpuKernelRow cross_entropy_forward_row(RowRunner& rr, const ShapeUse<CrossEntropyShape>& u,
                                       const CrossEntropyForwardCuda& ours);
GpuKernelRow cross_entropy_backward_row(RowRunner& rr, const ShapeUse<CrossEntropyShape>& u,
                                        const CrossEntropyBackwardCuda& ours);
GpuKernelRow linear_forward_row(RowRunner& rr, const ShapeUse<LinearShape>& u, const LinearForwardCuda& ours,
                                const LinearForwardCuda& vendor, const std::string& vendor_name);
GpuKernelRow linear_backward_row(RowRunner& rr, const ShapeUse<LinearShape>& u, const LinearBackwardCuda& ours,
                                 const LinearBackwardCuda& vendor, const std::string& vendor_name);
// Over every tensor of a parameter list, one multi-tensor launch (as the training step runs them).
GpuKernelRow tensor_stats_row(RowRunner& rr, const ParamListUse& u, const TensorStatsCuda& ours);
GpuKernelRow sgd_update_row(RowRunner& rr, const ParamListUse& u, const SgdUpdateCuda& ours);

}  // namespace elr::bench::gpu
