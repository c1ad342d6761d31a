// The direct stride-1 float conv2d (kernels/cpu/conv2d_direct.cpp): forward and backward-data
// and the 3x3 weight gradient without a column matrix, on AVX-512. conv2d_*_cpu<float> use them
// where they are supported; the im2col path serves everything else.
#pragma once
#include "kernels/kernels.h"

namespace elr::kernels::detail {

// Stride 1, pad < r and pad < s, not the 1x1 pad-0 case (a plain GEMM), and built with AVX-512.
bool conv2d_direct_supported(const Conv2dShape& sh);
void conv2d_forward_direct(const Conv2dShape& sh, const float* x, const float* w, float* y);
void conv2d_backward_data_direct(const Conv2dShape& sh, const float* dy, const float* w, float* dx);
// The weight gradient: 3x3, stride 1, pad < 3, built with AVX-512.
bool conv2d_direct_weight_grad_supported(const Conv2dShape& sh);
void conv2d_backward_weight_direct(const Conv2dShape& sh, const float* x, const float* dy, float* dw);

}  // namespace elr::kernels::detail
