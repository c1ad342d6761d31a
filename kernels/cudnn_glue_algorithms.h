// Which cuDNN convolution algorithms the glue (cudnn_glue.cpp) may use. The GPU checks compare
// cuDNN with the FP32 double-reference bound element by element (gpu.conv, the bench's vendor rows,
// the conv lab at 1e-4), so only algorithms that sum the products directly in FP32 qualify:
// - implicit GEMM, precomputed implicit GEMM, explicit GEMM and direct (forward); ALGO_0/ALGO_1
//   (backward data); ALGO_0/ALGO_1/ALGO_3 (backward filter). FFT, FFT tiling and the Winograd
//   transforms round in a transformed domain, with errors far above that bound on some elements;
// - deterministic results only (ALGO_0 of both backward passes and ALGO_3 of the filter pass add
//   with atomics and are reported non-deterministic, so in practice ALGO_1 there);
// - FP32 FMA math: CUDNN_DEFAULT_MATH or CUDNN_FMA_MATH, never tensor-op math (TF32 or FP16).
// Plain C++ with cuDNN's enum values written out, so the CPU tests check the rule;
// cudnn_glue.cpp checks every value against cudnn.h at compile time.
#pragma once
#include <cstddef>
#include <iterator>

namespace elr::vendor {

enum class ConvPass { Forward, BackwardData, BackwardFilter };

struct ConvAlgorithm {
  int value;         // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  const char* name;  // its CUDNN_CONVOLUTION_*_ALGO_ suffix
  bool direct_sum;   // sums products in FP32 without a transform (no FFT, no Winograd)
};

// Indexed by value: entry i has value i.
inline constexpr ConvAlgorithm kForwardAlgorithms[] = {
    {0, "IMPLICIT_GEMM", true}, {1, "IMPLICIT_PRECOMP_GEMM", true}, {2, "GEMM", true},
    {3, "DIRECT", true},        {4, "FFT", false},                  {5, "FFT_TILING", false},
    {6, "WINOGRAD", false},     {7, "WINOGRAD_NONFUSED", false}};
inline constexpr ConvAlgorithm kBackwardDataAlgorithms[] = {
    {0, "0", true},        {1, "1", true},          {2, "FFT", false},
    {3, "FFT_TILING", false}, {4, "WINOGRAD", false}, {5, "WINOGRAD_NONFUSED", false}};
inline constexpr ConvAlgorithm kBackwardFilterAlgorithms[] = {
    {0, "0", true},        {1, "1", true},                   {2, "FFT", false},       {3, "3", true},
    {4, "WINOGRAD", false}, {5, "WINOGRAD_NONFUSED", false}, {6, "FFT_TILING", false}};

// cudnnMathType_t and cudnnDeterminism_t values the rule accepts.
inline constexpr int kCudnnDefaultMath = 0;  // CUDNN_DEFAULT_MATH
inline constexpr int kCudnnFmaMath = 3;      // CUDNN_FMA_MATH
inline constexpr int kCudnnDeterministic = 1;  // CUDNN_DETERMINISTIC

// The algorithm of a pass with this value, or null when cuDNN reports a value this list lacks.
inline const ConvAlgorithm* conv_algorithm(ConvPass pass, int value) {
  const ConvAlgorithm* table = pass == ConvPass::Forward        ? kForwardAlgorithms
                               : pass == ConvPass::BackwardData ? kBackwardDataAlgorithms
                                                                : kBackwardFilterAlgorithms;
  const size_t size = pass == ConvPass::Forward        ? std::size(kForwardAlgorithms)
                      : pass == ConvPass::BackwardData ? std::size(kBackwardDataAlgorithms)
                                                       : std::size(kBackwardFilterAlgorithms);
  return value >= 0 && size_t(value) < size ? &table[value] : nullptr;
}

// Whether the glue may use a result of cuDNN's heuristics (algorithm, math type, determinism).
inline bool conv_algorithm_accepted(ConvPass pass, int value, int math_type, int determinism) {
  const ConvAlgorithm* a = conv_algorithm(pass, value);
  return a && a->direct_sum && (math_type == kCudnnDefaultMath || math_type == kCudnnFmaMath) &&
         determinism == kCudnnDeterministic;
}

}  // namespace elr::vendor
