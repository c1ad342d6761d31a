// Raw device arrays for the optimizer's kernels (statistics, learning rates, records): untyped
// storage in an i64 tensor (8-byte aligned), filled and read through the device's backend.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "engine/tensor.h"

namespace elr {

// Device storage for n values of T.
template <class T>
Tensor device_array(size_t n, Device device) {
  const size_t bytes = std::max<size_t>(n * sizeof(T), 8);
  return Tensor::empty({static_cast<int64_t>((bytes + 7) / 8)}, DType::I64, device);
}

// Copies n values of T from the host into the array (synchronous: setup, not inside a step).
template <class T>
void upload(Tensor& array, const T* values, size_t n) {
  backend_for(array.device().type).copy_from_host(array.raw(), values, n * sizeof(T));
}

// Host copy of the first n values of T (synchronizes).
template <class T>
std::vector<T> download(const Tensor& array, size_t n) {
  std::vector<T> out(n);
  backend_for(array.device().type).copy_to_host(out.data(), array.raw(), n * sizeof(T));
  return out;
}

}  // namespace elr
