#include "engine/device.h"

#include <algorithm>
#include <cstring>

#include "engine/allocator.h"
#include "engine/error.h"

namespace elr {

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : fmt::format("cuda:{}", index);
}

Device Device::parse(const std::string& name) {
  if (name == "cpu") return cpu();
  if (name == "cuda") return cuda(0);
  if (name.rfind("cuda:", 0) == 0) {
    try {
      return cuda(std::stoi(name.substr(5)));
    } catch (const std::exception&) {
    }
  }
  throw UserError(fmt::format("unknown device '{}' (expected cpu, cuda or cuda:N)", name));
}

namespace {

class CpuBackend final : public DeviceBackend {
 public:
  void* allocate(size_t bytes) override { return cpu_allocate(bytes); }
  void deallocate(void* ptr, size_t) override { cpu_deallocate(ptr); }
  void memset_zero(void* ptr, size_t bytes) override { std::memset(ptr, 0, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void fill(float* ptr, int64_t count, float value) override { std::fill(ptr, ptr + count, value); }
  void copy_within(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
};

DeviceBackend*& slot(DeviceType type) {
  static DeviceBackend* slots[2] = {nullptr, nullptr};
  return slots[static_cast<int>(type)];
}

}  // namespace

DeviceBackend& backend_for(DeviceType type) {
  static CpuBackend cpu_backend;
  if (type == DeviceType::CPU) return cpu_backend;
  DeviceBackend* b = slot(type);
  if (b == nullptr) throw UserError("the CUDA backend is not available in this build or on this machine");
  return *b;
}

void register_backend(DeviceType type, DeviceBackend* backend) { slot(type) = backend; }

namespace {
DeviceStarter& starter_slot(DeviceType type) {
  static DeviceStarter starters[2] = {nullptr, nullptr};
  return starters[static_cast<int>(type)];
}
}  // namespace

void set_device_starter(DeviceType type, DeviceStarter starter) { starter_slot(type) = starter; }

bool start_device(DeviceType type, std::string* why_not) {
  if (type == DeviceType::CPU) return true;
  DeviceStarter s = starter_slot(type);
  if (s == nullptr) {
    if (why_not) *why_not = "this build of elrscope has no CUDA backend (build with the CUDA toolkit present)";
    return false;
  }
  return s(why_not);
}

}  // namespace elr

#include "engine/device_ops.h"

namespace elr {

namespace {
const CudaOps*& cuda_ops_slot() {
  static const CudaOps* ops = nullptr;
  return ops;
}
}  // namespace

void register_cuda_ops(const CudaOps* ops) { cuda_ops_slot() = ops; }
bool cuda_ops_available() { return cuda_ops_slot() != nullptr; }
const CudaOps& cuda_ops() {
  if (!cuda_ops_slot()) throw UserError("the CUDA backend is not available in this build or on this machine");
  return *cuda_ops_slot();
}

}  // namespace elr
