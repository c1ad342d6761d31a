// The CPU kernel suite: the op-case table's network cases, each validated and timed on the CPU.
#include "bench/cpu/kernel_bench.h"
#include "kernels/optable/case_lists.h"
#include "kernels/optable/networks.h"

namespace elr::bench {

std::vector<KernelRow> run_kernel_suite(const KernelSuiteConfig& cfg) {
  std::vector<KernelRow> rows;
  for (const kernels::NetworkCase& nc : kernels::network_cases(cfg.batch, cfg.full, /*large=*/false)) {
    const kernels::Op op = nc.op->op();
    if (op == kernels::Op::LinearForward || op == kernels::Op::LinearBackward) continue;
    KernelRow r = bench_cpu_case(*nc.op, cfg.kernel, cfg.options);
    r.nets = nc.nets;
    if (cfg.on_row) cfg.on_row(r);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<int64_t> parameter_sizes(const ModelConfig& c) {
  validate_model_config(c);
  kernels::NetSpec net;
  net.model = c.name;
  net.depth = c.depth;
  net.width = c.width > 0 ? c.width : default_width(c.name);
  net.in_channels = c.in_channels;
  net.image_size = c.image_size;
  net.classes = c.classes;
  return kernels::net_layers(net, 1).parameter_sizes;
}

}  // namespace elr::bench
