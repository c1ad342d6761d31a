#include "kernels/optable/op_case.h"

#include <cstring>

#include "engine/error.h"

namespace elr::kernels {

int64_t TensorSpec::count() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

TensorSpec in_tensor(std::string name, std::vector<int64_t> dims, DType dtype) {
  TensorSpec s;
  s.name = std::move(name);
  s.dtype = dtype;
  s.dims = std::move(dims);
  return s;
}

TensorSpec out_tensor(std::string name, std::vector<int64_t> dims, int64_t reduction, DType dtype) {
  TensorSpec s = in_tensor(std::move(name), std::move(dims), dtype);
  s.role = Role::Output;
  s.reduction = reduction;
  s.may_be_zero = dtype == DType::I32 || dtype == DType::I64;  // indices and counts
  return s;
}

TensorSpec inout_tensor(std::string name, std::vector<int64_t> dims, int64_t reduction) {
  TensorSpec s = out_tensor(std::move(name), std::move(dims), reduction);
  s.role = Role::InOut;
  return s;
}

void OpCase::cpu_double(const OpArgs&) const {
  throw Error(fmt::format("{}: the CPU kernel exists in float only", id()));
}

std::string OpCase::tolerance_key(const std::string& output) const {
  return tolerance_op() + "." + name() + "." + output;
}

void run_cpu(const OpCase& c, const OpArgs& a) { c.cpu(a); }
void run_cpu_double(const OpCase& c, const OpArgs& a) { c.cpu_double(a); }

size_t element_bytes(DType dtype, bool f32_as_double) {
  switch (dtype) {
    case DType::F32: return f32_as_double ? sizeof(double) : sizeof(float);
    case DType::F64: return sizeof(double);
    case DType::I32: return sizeof(int32_t);
    case DType::I64: return sizeof(int64_t);
  }
  return 0;
}

namespace {
template <class T>
void pack_as(const Values& values, void* buffer) {
  T* out = static_cast<T*>(buffer);
  for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<T>(values[i]);
}
template <class T>
Values unpack_as(const void* buffer, int64_t count) {
  const T* in = static_cast<const T*>(buffer);
  return Values(in, in + count);
}
}  // namespace

void pack_values(const Values& values, DType dtype, bool f32_as_double, void* buffer) {
  switch (dtype) {
    case DType::F32: return f32_as_double ? pack_as<double>(values, buffer) : pack_as<float>(values, buffer);
    case DType::F64: return pack_as<double>(values, buffer);
    case DType::I32: return pack_as<int32_t>(values, buffer);
    case DType::I64: return pack_as<int64_t>(values, buffer);
  }
}

Values unpack_values(const void* buffer, DType dtype, bool f32_as_double, int64_t count) {
  switch (dtype) {
    case DType::F32: return f32_as_double ? unpack_as<double>(buffer, count) : unpack_as<float>(buffer, count);
    case DType::F64: return unpack_as<double>(buffer, count);
    case DType::I32: return unpack_as<int32_t>(buffer, count);
    case DType::I64: return unpack_as<int64_t>(buffer, count);
  }
  return {};
}

HostRun::HostRun(const OpCase& c, const std::vector<Values>& inputs, bool in_double)
    : specs_(c.tensors()), in_double_(in_double) {
  for (const TensorSpec& s : specs_) {
    const size_t bytes = size_t(s.count()) * element_bytes(s.dtype, in_double_);
    storage_.emplace_back((bytes + sizeof(double) - 1) / sizeof(double) + 1);  // never empty: a valid pointer
    args_.data.push_back(storage_.back().data());
  }
  reset(inputs);
}

void HostRun::reset(const std::vector<Values>& inputs) {
  ELR_CHECK(inputs.size() == specs_.size(), "HostRun: {} input entries for {} tensors", inputs.size(), specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    const TensorSpec& s = specs_[i];
    if (s.role == Role::Output) {
      std::memset(args_.data[i], 0xff, size_t(s.count()) * element_bytes(s.dtype, in_double_));  // NaN, -1
      continue;
    }
    ELR_CHECK(int64_t(inputs[i].size()) == s.count(), "HostRun: input '{}' has {} values, the tensor {}", s.name,
              inputs[i].size(), s.count());
    pack_values(inputs[i], s.dtype, in_double_, args_.data[i]);
  }
}

std::vector<Values> HostRun::results() const {
  std::vector<Values> out(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].written()) out[i] = unpack_values(args_.data[i], specs_[i].dtype, in_double_, specs_[i].count());
  return out;
}

std::vector<Values> run_on_host(const OpCase& c, const OpEntry& entry, const std::vector<Values>& inputs,
                                bool in_double) {
  HostRun run(c, inputs, in_double);
  entry(c, run.args());
  return run.results();
}

namespace {

CaseCheck check_outputs(const OpCase& c, const std::vector<Values>& got, const std::vector<Expected>& expected,
                        const Tolerance* tolerance) {
  const std::vector<TensorSpec> specs = c.tensors();
  ELR_CHECK(got.size() == specs.size() && expected.size() == specs.size(),
            "check_case {}: {} results and {} expected entries for {} tensors", c.id(), got.size(), expected.size(),
            specs.size());
  CaseCheck result;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    if (!s.written()) continue;
    const std::string key = c.tolerance_key(s.name);
    const ToleranceRule& rule = tolerance_rule_for(key);
    Tolerance tol = tolerance ? *tolerance : rule.tol;
    tol.allow_all_zero = tol.allow_all_zero || s.may_be_zero;
    const Closeness closeness = evaluate_closeness(got[i], expected[i].values, tol, s.reduction, expected[i].index);
    result.max_rel_error = std::max(result.max_rel_error, closeness.max_rel_error);
    result.worst_fraction = std::max(result.worst_fraction, closeness.worst_fraction);
    if (!closeness.ok && result.ok) {
      result.ok = false;
      result.message = fmt::format("{}: output '{}': {}", c.id(), s.name,
                                   describe_closeness(closeness, tolerance ? "given" : rule.pattern, tol, s.reduction,
                                                      s.dims));
    }
  }
  return result;
}

}  // namespace

CaseCheck check_case(const OpCase& c, const std::vector<Values>& got, const std::vector<Expected>& expected) {
  return check_outputs(c, got, expected, nullptr);
}

CaseCheck check_case(const OpCase& c, const std::vector<Values>& got, const std::vector<Expected>& expected,
                     const Tolerance& tolerance) {
  return check_outputs(c, got, expected, &tolerance);
}

std::vector<Expected> as_expected(const std::vector<Values>& results) {
  std::vector<Expected> out;
  for (const Values& v : results) out.push_back({v, {}});
  return out;
}

}  // namespace elr::kernels
