// One benchmark row: one kernel at one shape, on the CPU or a GPU, validated against the op-case
// table's reference before it is timed. A failed validation makes the row an error, never a time.
#pragma once
#include <string>
#include <vector>

#include "engine/error.h"
#include "kernels/optable/op_case.h"

namespace elr::bench {

// A kernel's output differs from its reference by more than the tolerance.
class ValidationError : public Error {
 public:
  explicit ValidationError(const std::string& what) : Error(what) {}
};

struct KernelRow {
  std::string kernel;        // "conv2d forward" (OpCase::kernel)
  std::string shape;         // the op case's name
  std::string nets;          // the nets that use this shape ("large" for the GPU suite's large shapes)
  bool valid = false;        // validation passed; the times below are only set when true
  std::string error;         // the validation error (or another failure) instead of a time
  double max_rel_error = 0;  // worst |got - reference| / max |reference| over the checked outputs
  double median_s = 0, min_s = 0;
  int repeats = 0;
  double flop = 0;   // per call; 0 for memory-bound kernels
  double bytes = 0;  // minimal memory traffic per call (each input read once, each output written once)
  // CPU rows: the assumed FP32 peak (rows with FLOPs) and the 1-minute load average when measured.
  double peak_gflops = 0;
  double load_avg = 0;
  // GPU rows: the vendor library doing the same operation, interleaved with ours.
  std::string vendor;  // "cuDNN", "cuBLAS", or "" when there is no peer
  bool vendor_valid = false;
  std::string vendor_error;
  double vendor_max_rel_error = 0;
  double vendor_median_s = 0, vendor_min_s = 0;

  double gflops() const { return valid && flop > 0 && median_s > 0 ? flop / median_s * 1e-9 : 0; }
  double tflops() const { return valid && flop > 0 && median_s > 0 ? flop / median_s * 1e-12 : 0; }
  double gbs() const { return valid && bytes > 0 && median_s > 0 ? bytes / median_s * 1e-9 : 0; }
  double peak_share() const { return peak_gflops > 0 ? gflops() / peak_gflops : 0; }
  // ours / vendor, medians (below 1: ours is faster); 0 without a valid vendor time.
  double ratio() const { return valid && vendor_valid && vendor_median_s > 0 ? median_s / vendor_median_s : 0; }
};

int validation_failures(const std::vector<KernelRow>& rows);

// The validation of one run of a case: returns the worst max |got - expected| / max |expected| over
// its outputs, or throws ValidationError("validation failed: <kernel> <case>: output '<name>': ...")
// with the worst element and how far past its threshold it is.
double validate(const kernels::OpCase& c, const std::vector<kernels::Values>& got,
                const std::vector<kernels::Expected>& expected);

}  // namespace elr::bench
