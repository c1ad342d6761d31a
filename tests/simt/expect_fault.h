// Catching the CPU layer's reports in tests: expect_fault runs `launch`, then waits for the device
// (a deferred launch faults when it runs), and returns the KernelError either throws.
#pragma once
#include <catch2/catch.hpp>
#include <cuda_runtime_api.h>

#include <string>

#include "kernels/simt/control.h"

namespace elr::simt_tests {

template <class F>
elr::simt::KernelError expect_fault(F launch) {
  try {
    launch();
    cudaDeviceSynchronize();
  } catch (const elr::simt::KernelError& e) {
    return e;
  }
  FAIL("the planted bug was not detected");
  return elr::simt::KernelError(elr::simt::Fault::BadLaunch, "");
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace elr::simt_tests
