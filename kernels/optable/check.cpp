#include "kernels/optable/check.h"

namespace elr::kernels {

std::string format_index(size_t flat, const std::vector<int64_t>& shape) {
  if (shape.empty()) return fmt::format("[{}]", flat);
  std::vector<int64_t> idx(shape.size());
  int64_t rest = static_cast<int64_t>(flat);
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] > 0 ? rest % shape[d] : 0;
    rest = shape[d] > 0 ? rest / shape[d] : 0;
  }
  std::string out = "[";
  for (size_t d = 0; d < idx.size(); ++d) out += (d ? ", " : "") + std::to_string(idx[d]);
  return out + "]";
}

std::string describe_closeness(const Closeness& c, const std::string& rule, const Tolerance& tol,
                               int64_t reduction_length, const std::vector<int64_t>& shape) {
  std::string s = c.ok ? "" : c.problem + "; ";
  s += fmt::format("rule '{}' (atol {:g} x sqrt({}), rtol {:g}, nmse {:g})", rule, tol.atol, reduction_length,
                   tol.rtol, tol.nmse);
  if (c.count > 0)
    s += fmt::format("; worst value {} is {:.9g} against {:.9g}, {:.1f}% of its threshold; max |diff| {:.3g} at {}; "
                     "nmse {:.3g}",
                     format_index(c.worst_index, shape), c.worst_actual, c.worst_expected, 100.0 * c.worst_fraction,
                     c.max_abs_diff, format_index(c.max_abs_index, shape), c.nmse);
  return s;
}

}  // namespace elr::kernels
