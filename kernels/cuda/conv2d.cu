// conv2d forward, backward-data and backward-weight on CUDA cores in FP32: implicit GEMM through
// the tiled main loop in gemm_tiles.h, with the operand gathers of conv_common.h (no im2col buffer).
// The weight gradient is the only pass whose reduction axis (batch * pixels) is long next to its
// output; it alone is split over k, reduced by a second kernel in a fixed order. The data gradient
// runs one GEMM per stride phase, so a stride-2 layer does no work on taps that miss. Only the
// weight gradient needs a workspace (its split's partial tiles), which the caller provides.
#include "kernels/cpu/im2col.h"
#include "kernels/cuda/conv_common.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace elr::kernels {

void conv2d_forward_cuda(const Conv2dShape& sh, const float* x, const float* w, float* y, Stream stream) {
  check_conv2d_shape(sh, "conv2d_forward_cuda");
  gemm::run_gemm(conv::forward_problem(sh, x, w, y), /*allow_split=*/false, Workspace{}, stream);
}

void conv2d_backward_data_cuda(const Conv2dShape& sh, const float* dy, const float* w, float* dx,
                               Stream stream) {
  check_conv2d_shape(sh, "conv2d_backward_data_cuda");
  // One GEMM per stride phase: each dx pixel is written by exactly one of them.
  for (int h0 = 0; h0 < sh.stride; ++h0)
    for (int w0 = 0; w0 < sh.stride; ++w0) {
      const conv::BackwardDataProblem p = conv::backward_data_problem(sh, dy, w, dx, h0, w0);
      if (p.n > 0) gemm::run_gemm(p, /*allow_split=*/false, Workspace{}, stream);
    }
}

size_t conv2d_backward_weight_workspace_bytes(const Conv2dShape& sh) {
  check_conv2d_shape(sh, "conv2d_backward_weight_workspace_bytes");
  const conv::BackwardWeightProblem p = conv::backward_weight_problem(sh, nullptr, nullptr, nullptr);
  return gemm::gemm_workspace_bytes(p.m, p.n, p.kdim, /*allow_split=*/true);
}

void conv2d_backward_weight_cuda(const Conv2dShape& sh, const float* x, const float* dy, float* dw,
                                 Workspace workspace, Stream stream) {
  check_conv2d_shape(sh, "conv2d_backward_weight_cuda");
  gemm::run_gemm(conv::backward_weight_problem(sh, x, dy, dw), /*allow_split=*/true, workspace, stream);
}

}  // namespace elr::kernels
