// The rule the cuDNN glue uses to pick convolution algorithms (kernels/cudnn_glue_algorithms.h):
// only deterministic, direct-sum (no FFT, no Winograd) algorithms with FP32 FMA math, so cuDNN's
// results stay inside the element-wise FP32 bound the GPU checks hold them to.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "kernels/cudnn_glue_algorithms.h"

using namespace elr::vendor;

namespace {

// The names of a pass's algorithms the rule accepts with FMA math, deterministic.
std::vector<std::string> accepted(ConvPass pass, int count) {
  std::vector<std::string> names;
  for (int algo = 0; algo < count; ++algo)
    if (conv_algorithm_accepted(pass, algo, kCudnnFmaMath, kCudnnDeterministic))
      names.push_back(conv_algorithm(pass, algo)->name);
  return names;
}

}  // namespace

TEST_CASE("cuDNN glue: only GEMM-like and direct convolution algorithms are accepted", "[cudnn]") {
  CHECK(accepted(ConvPass::Forward, 8) ==
        std::vector<std::string>{"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT"});
  CHECK(accepted(ConvPass::BackwardData, 6) == std::vector<std::string>{"0", "1"});
  CHECK(accepted(ConvPass::BackwardFilter, 7) == std::vector<std::string>{"0", "1", "3"});
}

TEST_CASE("cuDNN glue: FFT and Winograd are refused even when deterministic with FMA math", "[cudnn]") {
  for (int fwd : {4, 5, 6, 7}) CHECK_FALSE(conv_algorithm_accepted(ConvPass::Forward, fwd, kCudnnFmaMath, 1));
  for (int data : {2, 3, 4, 5}) CHECK_FALSE(conv_algorithm_accepted(ConvPass::BackwardData, data, kCudnnFmaMath, 1));
  for (int filter : {2, 4, 5, 6})
    CHECK_FALSE(conv_algorithm_accepted(ConvPass::BackwardFilter, filter, kCudnnFmaMath, 1));
  CHECK(std::string(conv_algorithm(ConvPass::Forward, 6)->name) == "WINOGRAD");
  CHECK(std::string(conv_algorithm(ConvPass::BackwardFilter, 6)->name) == "FFT_TILING");
}

TEST_CASE("cuDNN glue: tensor-op math, non-deterministic results and unknown algorithms are refused", "[cudnn]") {
  CHECK(conv_algorithm_accepted(ConvPass::Forward, 1, kCudnnDefaultMath, kCudnnDeterministic));
  CHECK_FALSE(conv_algorithm_accepted(ConvPass::Forward, 1, 1, kCudnnDeterministic));  // CUDNN_TENSOR_OP_MATH
  CHECK_FALSE(conv_algorithm_accepted(ConvPass::Forward, 1, 2, kCudnnDeterministic));  // ..._ALLOW_CONVERSION
  CHECK_FALSE(conv_algorithm_accepted(ConvPass::BackwardData, 0, kCudnnFmaMath, 0));  // atomics
  CHECK_FALSE(conv_algorithm_accepted(ConvPass::Forward, 8, kCudnnFmaMath, kCudnnDeterministic));
  CHECK_FALSE(conv_algorithm_accepted(ConvPass::BackwardFilter, -1, kCudnnFmaMath, kCudnnDeterministic));
  CHECK(conv_algorithm(ConvPass::BackwardData, 6) == nullptr);
}
