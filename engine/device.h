// Devices and the backend interface a device plugs into (memory and copies). The CPU backend is
// built in; the CUDA backend registers itself when it is compiled in.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace elr {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  static Device parse(const std::string& name);  // "cpu", "cuda", "cuda:1"
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual void memset_zero(void* ptr, size_t bytes) = 0;
  // Copies between this device and the host (or within this device).
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_within(void* dst, const void* src, size_t bytes) = 0;
  // ptr[0..count) = value (on a device: without waiting for it).
  virtual void fill(float* ptr, int64_t count, float value) = 0;
};

// The backend for a device type; throws a clear error when that backend is not available.
DeviceBackend& backend_for(DeviceType type);
void register_backend(DeviceType type, DeviceBackend* backend);

// How a program starts a non-CPU backend on demand (the CUDA backend library sets one): returns
// false with the reason when the device is absent. start_device is true for the CPU.
using DeviceStarter = bool (*)(std::string* why_not);
void set_device_starter(DeviceType type, DeviceStarter starter);
bool start_device(DeviceType type, std::string* why_not);

}  // namespace elr
