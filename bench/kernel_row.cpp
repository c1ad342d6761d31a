#include "bench/kernel_row.h"

namespace elr::bench {

int validation_failures(const std::vector<KernelRow>& rows) {
  int n = 0;
  for (const KernelRow& r : rows) n += r.valid ? 0 : 1;
  return n;
}

double validate(const kernels::OpCase& c, const std::vector<kernels::Values>& got,
                const std::vector<kernels::Expected>& expected) {
  const kernels::CaseCheck check = kernels::check_case(c, got, expected);
  if (!check.ok) throw ValidationError("validation failed: " + check.message);
  return check.max_rel_error;
}

}  // namespace elr::bench
