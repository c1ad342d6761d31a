// The op-case table: every op of kernels/kernels.h at the shapes it is tested and benchmarked at.
// A case is one kernel at one shape; it lists its tensors, makes its inputs (seeded), runs its CPU
// entry, computes a double-precision reference with plain loops written independently of the
// kernels, and knows its FLOPs, bytes and tolerance keys. Its CUDA entry is in cuda_column.h. One
// list of cases drives three uses:
//   parity      the CUDA entry (on a GPU or the CPU execution layer) against the CPU entry;
//   gradients   a backward case's CPU entry in double against finite differences of its forward
//               case (tests/gradcheck.h pairs them by tensor names: backward input "dy" weights
//               forward output "y", backward output "dx" is the gradient of forward input "x");
//   benchmarks  a kernel validated against the reference at the benchmarked shape, then timed.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/optable/check.h"

namespace elr::kernels {

enum class DType { F32, F64, I32, I64 };
// InOut: read, then updated in place (running statistics, SGD's weights and momentum buffers).
enum class Role { Input, Output, InOut };

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> dims;
  Role role = Role::Input;
  int64_t reduction = 1;     // outputs: the length of the sum behind each value (scales atol)
  bool may_be_zero = false;  // outputs: all zeros is a legitimate result (a count, a one-class loss)
  bool on_host = false;      // a scalar the CUDA entry takes by value: kept in host memory
  int64_t count() const;
  bool written() const { return role != Role::Input; }
};

// One tensor's values: floats and integers widened to double (exactly).
using Values = std::vector<double>;

// The expected values of one output: all of it, or the elements at `index` (a large case checks a
// subset whose reference is cheap).
struct Expected {
  Values values;
  std::vector<int64_t> index;  // empty: values[i] is element i
};

enum class Op {
  Conv2dForward, Conv2dBackwardData, Conv2dBackwardWeight,
  BatchNormTrainForward, BatchNormEvalForward, BatchNormBackward,
  ReluForward, ReluBackward, AddForward, AddBackward,
  LinearForward, LinearBackward,
  MaxPoolForward, MaxPoolBackward, MaxPool3x3s2Forward, MaxPool3x3s2Backward, AvgPoolForward, AvgPoolBackward,
  CrossEntropyForward, CrossEntropyBackward,
  TensorStats, SgdUpdate,
};

// The buffers of one run, in the order of OpCase::tensors(), in host or device memory. F32 tensors
// hold doubles when a CPU entry runs in double (the gradient checks).
struct OpArgs {
  std::vector<void*> data;
  Stream stream = nullptr;                       // CUDA entries
  Workspace workspace;                           // CUDA conv/GEMM weight gradients: split-K scratch
  const MultiTensorList* tensor_list = nullptr;  // CUDA optimizer entries: the list over w, g, v
  template <class T>
  T* at(int i) const {
    return static_cast<T*>(data[static_cast<size_t>(i)]);
  }
};

class OpCase;
// A kernel under test: the table's CPU or CUDA entry, a vendor library's, or a broken one in a test.
using OpEntry = std::function<void(const OpCase&, const OpArgs&)>;

class OpCase {
 public:
  virtual ~OpCase() = default;
  virtual Op op() const = 0;
  virtual std::string kernel() const = 0;  // "conv2d forward": the benchmarks' kernel column
  // "conv2d(n=2,c=3,h=5,w=5,k=4,r=3,s=3,stride=1,pad=1)": the op family and shape, shared by the
  // family's kernels; a test section name, so `-c '<name>'` reruns one case.
  virtual std::string name() const = 0;
  virtual std::vector<TensorSpec> tensors() const = 0;
  // Seeded inputs, one entry per tensor (empty for outputs).
  virtual std::vector<Values> make_inputs() const = 0;
  // The inputs a check against the reference runs with: the inputs, or (conv weight gradient) a
  // variant whose reference on a few images is exact.
  virtual std::vector<Values> validation_inputs(const std::vector<Values>& inputs) const { return inputs; }
  // Double-precision plain loops, one entry per tensor (empty for inputs).
  virtual std::vector<Expected> reference(const std::vector<Values>& inputs) const = 0;
  virtual void cpu(const OpArgs& a) const = 0;  // the CPU kernel in float
  virtual void cpu_double(const OpArgs& a) const;  // the same CPU kernel in double (throws for float-only ones)
  // A backward case's forward case (the gradient checks differentiate it); null for the others.
  virtual std::unique_ptr<OpCase> forward() const { return nullptr; }
  virtual double flop() const { return 0; }  // per call; 0 for the memory-bound kernels
  virtual double bytes() const = 0;          // minimal traffic: each input read once, each output written once
  // "<tolerance op>.<case name>.<output>", looked up in tolerances.h.
  std::string tolerance_key(const std::string& output) const;
  std::string id() const { return kernel() + " " + name(); }

 protected:
  virtual std::string tolerance_op() const = 0;  // "conv2d", "batchnorm_train", ... (tolerances.h)
};
using OpCasePtr = std::shared_ptr<const OpCase>;

// Spec builders for the case definitions.
TensorSpec in_tensor(std::string name, std::vector<int64_t> dims, DType dtype = DType::F32);
TensorSpec out_tensor(std::string name, std::vector<int64_t> dims, int64_t reduction = 1, DType dtype = DType::F32);
TensorSpec inout_tensor(std::string name, std::vector<int64_t> dims, int64_t reduction = 1);

// The CPU column as an entry: c.cpu(a).
void run_cpu(const OpCase& c, const OpArgs& a);
void run_cpu_double(const OpCase& c, const OpArgs& a);

// Host buffers for runs of one case: inputs copied in, outputs poisoned (NaN floats, -1 integers),
// so an element the kernel never writes fails every comparison.
class HostRun {
 public:
  HostRun(const OpCase& c, const std::vector<Values>& inputs, bool in_double = false);
  // Copies the inputs (and the starting values of in/out tensors) in again and poisons the outputs.
  void reset(const std::vector<Values>& inputs);
  const OpArgs& args() const { return args_; }
  std::vector<Values> results() const;  // the written tensors widened; empty entries for inputs

 private:
  std::vector<TensorSpec> specs_;
  bool in_double_;
  std::vector<std::vector<double>> storage_;  // 8-byte aligned, whatever the element type
  OpArgs args_;
};

// One run of `entry` on host buffers.
std::vector<Values> run_on_host(const OpCase& c, const OpEntry& entry, const std::vector<Values>& inputs,
                                bool in_double = false);

// Element size and conversions between Values and a tensor's buffer (floats as double when asked).
size_t element_bytes(DType dtype, bool f32_as_double);
void pack_values(const Values& values, DType dtype, bool f32_as_double, void* buffer);
Values unpack_values(const void* buffer, DType dtype, bool f32_as_double, int64_t count);

// Every written tensor of a run against its expected values, each with the tolerance its key
// selects (or `tolerance` for all of them): ok, and otherwise the first failing output named with
// the case, its worst element and how far past the threshold it is.
struct CaseCheck {
  bool ok = true;
  std::string message;
  double max_rel_error = 0;   // the worst max |a - e| / max |e| of the outputs
  double worst_fraction = 0;  // the worst |a - e| / threshold of the outputs
};
CaseCheck check_case(const OpCase& c, const std::vector<Values>& got, const std::vector<Expected>& expected);
CaseCheck check_case(const OpCase& c, const std::vector<Values>& got, const std::vector<Expected>& expected,
                     const Tolerance& tolerance);
// Another run's results as the expected values (parity: the CUDA entry against the CPU entry).
std::vector<Expected> as_expected(const std::vector<Values>& results);

}  // namespace elr::kernels
