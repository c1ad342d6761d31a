// The GPU kernel suite: the op-case table's network cases (the CPU suite's layer shapes of the
// CIFAR nets plus a few large shapes), each a row with its vendor peer where there is one.
#include "bench/gpu/gpu_bench.h"
#include "bench/gpu/kernel_rows.h"
#include "kernels/optable/networks.h"
#include "kernels/optable/ops.h"

namespace elr::bench::gpu {

std::vector<KernelRow> run_gpu_kernel_suite(const GpuKernelSuiteConfig& c) {
  RowRunner rr(c.stream, c.options);
  std::vector<KernelRow> rows;
  for (const kernels::NetworkCase& nc : c.cases) {
    rows.push_back(case_row(rr, nc, c.ours, c.vendor ? c.vendor(*nc.op) : VendorPeer{}));
    if (c.on_row) c.on_row(rows.back());
  }
  return rows;
}

std::vector<kernels::NetworkCase> tiny_network_cases() {
  namespace k = kernels;
  const k::Conv2dShape conv0{2, 3, 6, 6, 4, 3, 3, 1, 1}, conv1{3, 4, 7, 5, 6, 1, 1, 2, 0};
  const std::vector<int64_t> tensors = {100, 37, 5000};
  std::vector<k::OpCasePtr> cases;
  auto add = [&](const std::vector<k::OpCasePtr>& more) { cases.insert(cases.end(), more.begin(), more.end()); };
  add(k::conv2d_cases(conv0));
  add(k::conv2d_cases(conv1));
  for (const auto& [shape, relu] : {std::make_pair(k::BatchNormShape{2, 4, 9}, true),
                                    std::make_pair(k::BatchNormShape{3, 2, 5}, false)})
    add({std::make_shared<k::BatchNormTrainForward>(shape, relu), std::make_shared<k::BatchNormBackward>(shape, relu)});
  add({std::make_shared<k::MaxPoolForward>(k::PoolShape{2, 3, 4, 6}),
       std::make_shared<k::MaxPoolBackward>(k::PoolShape{2, 3, 4, 6})});
  add({std::make_shared<k::AvgPoolForward>(k::PoolShape{2, 4, 3, 3}),
       std::make_shared<k::AvgPoolBackward>(k::PoolShape{2, 4, 3, 3})});
  add(k::cross_entropy_cases(k::CrossEntropyShape{5, 10}));
  add(k::linear_cases(k::LinearShape{3, 5, 4}));
  add({std::make_shared<k::TensorStatsCase>(tensors, "tiny"),
       std::make_shared<k::SgdCase>(tensors, "tiny", k::benchmark_sgd_params())});
  std::vector<k::NetworkCase> out;
  for (const k::OpCasePtr& c : cases) out.push_back({c, "tiny"});
  return out;
}

}  // namespace elr::bench::gpu
