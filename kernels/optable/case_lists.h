// The lists of op cases the tests and the benchmarks loop over.
#pragma once
#include <string>
#include <vector>

#include "kernels/optable/op_case.h"

namespace elr::kernels {

// Every kernel at small shapes, small enough for finite differences in double: conv 3x3 and 1x1,
// stride 1 and 2, padding, C = 1, odd H and W, the ImageNet stem's 7x7 stride 2; BN with and
// without the fused ReLU; pooling with odd sizes and no whole window; a one-class loss; the
// optimizer over tensors around the multi-tensor chunk size (an empty one included) in the
// configurations the training step uses.
std::vector<OpCasePtr> small_cases();

// A case of the benchmark suites, with the nets that use its shape ("large" for the large shapes).
struct NetworkCase {
  OpCasePtr op;
  std::string nets;  // "resnet-20 resnet-56"
};

// The suites' cases at batch `batch` (or the net's own): the layer shapes of benchmark_nets(),
// deduplicated across the nets, each with the kernels that run at it, grouped by op: conv (three
// passes); BN with the ReLU it fuses (forward, backward); the max-pools and the average pool (both
// ways); the loss; the classifier; the statistics and the SGD update (momentum 0.9, weight decay)
// over each net's parameters. Without `full` a representative subset: every shape of resnet-20/56
// and plain-20, the first two vgg-11-only and resnet-imagenet-50-only shapes of each kind (the 7x7
// stem conv and a 1x1 conv; the stem's max-pool) and no parameter list of those two nets. `large`
// adds a few shapes far larger than a GPU's L2, where % of the HBM or FP32 peak is the yardstick.
std::vector<NetworkCase> network_cases(int batch, bool full, bool large);

// The SGD settings of the benchmarks' update rows: lr 0.1, momentum 0.9 (heavy ball, not the
// first step), weight decay 5e-4.
SgdParams benchmark_sgd_params();

}  // namespace elr::kernels
