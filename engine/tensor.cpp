#include "engine/tensor.h"

#include "engine/error.h"

namespace elr {

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

size_t dtype_size(DType t) { return t == DType::I64 ? 8 : 4; }
const char* dtype_name(DType t) { return t == DType::F32 ? "f32" : t == DType::I32 ? "i32" : "i64"; }

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  ptr_ = backend_for(device.type).allocate(bytes);
}

Storage::~Storage() { backend_for(device_.type).deallocate(ptr_, bytes_); }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) ELR_CHECK(d >= 0, "negative dimension in shape {}", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return Tensor(impl);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, DType::F32, device);
  backend_for(device.type).fill(t.data(), t.numel(), value);  // no host round trip on a device
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, Device device) {
  ELR_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
            "from_vector: {} values for shape {}", values.size(), shape_str(shape));
  Tensor t = empty(shape, DType::F32, device);
  backend_for(device.type).copy_from_host(t.raw(), values.data(), t.bytes());
  return t;
}

Tensor Tensor::from_labels(const std::vector<int32_t>& labels, Device device) {
  Tensor t = empty({static_cast<int64_t>(labels.size())}, DType::I32, device);
  backend_for(device.type).copy_from_host(t.raw(), labels.data(), t.bytes());
  return t;
}

int64_t Tensor::dim(int i) const {
  int n = ndim();
  int j = i < 0 ? i + n : i;
  ELR_CHECK(j >= 0 && j < n, "dimension {} out of range for shape {}", i, shape_str(shape()));
  return impl_->shape[j];
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return fmt::format("{}{} on {}", dtype_name(dtype()), shape_str(shape()), device().str());
}

float* Tensor::data() const {
  ELR_CHECK(dtype() == DType::F32, "data(): tensor {} is not f32", str());
  return static_cast<float*>(raw());
}

int32_t* Tensor::labels() const {
  ELR_CHECK(dtype() == DType::I32, "labels(): tensor {} is not i32", str());
  return static_cast<int32_t*>(raw());
}

int64_t* Tensor::i64() const {
  ELR_CHECK(dtype() == DType::I64, "i64(): tensor {} is not i64", str());
  return static_cast<int64_t*>(raw());
}

Tensor Tensor::reshape(const Shape& shape) const {
  ELR_CHECK(shape_numel(shape) == numel(), "reshape: cannot view {} as {}", str(), shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = shape;
  impl->dtype = impl_->dtype;
  return Tensor(impl);
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor t = empty(shape(), dtype(), device);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  ELR_CHECK(src.numel() == numel() && src.dtype() == dtype(), "copy_from: {} into {}", src.str(), str());
  Device s = src.device(), d = device();
  if (s.is_cpu() && d.is_cpu()) {
    backend_for(DeviceType::CPU).copy_within(raw(), src.raw(), bytes());
  } else if (s.is_cpu()) {
    backend_for(d.type).copy_from_host(raw(), src.raw(), bytes());
  } else if (d.is_cpu()) {
    backend_for(s.type).copy_to_host(raw(), src.raw(), bytes());
  } else {
    backend_for(d.type).copy_within(raw(), src.raw(), bytes());
  }
}

void Tensor::zero_() { backend_for(device().type).memset_zero(raw(), bytes()); }

std::vector<float> Tensor::to_vector() const {
  ELR_CHECK(dtype() == DType::F32, "to_vector: tensor {} is not f32", str());
  std::vector<float> out(static_cast<size_t>(numel()));
  if (device().is_cpu())
    std::copy(data(), data() + numel(), out.begin());
  else
    backend_for(device().type).copy_to_host(out.data(), raw(), bytes());
  return out;
}

}  // namespace elr
