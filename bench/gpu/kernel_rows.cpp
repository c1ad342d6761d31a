#include "bench/gpu/kernel_rows.h"

namespace elr::bench::gpu {

KernelRow case_row(RowRunner& rr, const kernels::NetworkCase& nc, const kernels::OpEntry& ours,
                   const VendorPeer& vendor) {
  const kernels::OpCase& c = *nc.op;
  // Validation runs on inputs whose reference is exact where it is computed on a subset (the
  // conv weight gradient's dy on two images); the timing on the case's own inputs.
  const std::vector<kernels::Values> inputs = c.make_inputs(), checked = c.validation_inputs(inputs);
  const std::vector<kernels::Expected> expected = c.reference(checked);
  kernels::DeviceRun run(c, checked, rr.stream());

  RowSpec spec;
  spec.kernel = c.kernel();
  spec.shape = c.name();
  spec.nets = nc.nets;
  spec.flop = c.flop();
  spec.bytes = c.bytes();
  spec.ours = [&] { ours(c, run.args()); };
  if (vendor.run) spec.vendor = [&] { vendor.run(c, run.args()); };
  spec.vendor_name = vendor.name;
  spec.before_validation = [&] { run.reset(checked); };
  spec.check = [&] { return validate(c, run.results(), expected); };
  spec.before_timing = [&] { run.reset(inputs); };
  return rr.run(spec);
}

}  // namespace elr::bench::gpu
