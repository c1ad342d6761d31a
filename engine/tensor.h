// Tensor: a shape, a dtype (fp32, or int32 for labels), a device, and contiguous NCHW storage,
// plus the autograd fields (requires_grad, grad). Copying a Tensor shares its storage.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"

namespace elr {

enum class DType { F32, I32, I64 };
using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);
size_t dtype_size(DType t);
const char* dtype_name(DType t);

class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* ptr_;
  size_t bytes_;
  Device device_;
};

class Tensor;
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // same shape and device; allocated by backward
  // The grad's storage is kept across steps (its address is fixed, e.g. for a CUDA graph or a
  // multi-tensor list) and holds last step's values: the next gradient overwrites it.
  bool grad_stale = false;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu());
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values, Device device = Device::cpu());
  static Tensor from_labels(const std::vector<int32_t>& labels, Device device = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  int64_t dim(int i) const;  // negative i counts from the end
  int ndim() const { return static_cast<int>(impl_->shape.size()); }
  int64_t numel() const { return shape_numel(impl_->shape); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  std::string str() const;  // "f32[2, 3] on cpu"

  float* data() const;  // fp32 only
  int32_t* labels() const;  // int32 only
  int64_t* i64() const;     // int64 only (counters)
  void* raw() const { return impl_->storage->data(); }

  // A tensor of another shape over the same storage (same numel).
  Tensor reshape(const Shape& shape) const;
  Tensor to(Device device) const;  // a copy on the device (or this tensor if already there)
  Tensor clone() const;
  void copy_from(const Tensor& src);  // same numel and dtype, any devices
  void zero_();
  std::vector<float> to_vector() const;  // fp32, via the host

  // Autograd
  bool requires_grad() const { return impl_->requires_grad; }
  void set_requires_grad(bool on) { impl_->requires_grad = on; }
  bool has_grad() const { return impl_->grad != nullptr; }
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void reset_grad() { impl_->grad.reset(); }
  // Keeps the grad's storage for the next backward, which overwrites instead of accumulating.
  void mark_grad_stale() { impl_->grad_stale = has_grad(); }
  bool grad_stale() const { return impl_->grad_stale; }
  void clear_grad_stale() { impl_->grad_stale = false; }

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace elr
