// Test helper for tests/check_checkpoint.py: prints a safetensors file (read by elrscope's own
// reader) as JSON -- the metadata, and each tensor's name, dtype, shape and values. Floats are
// printed with enough significant digits to read back to the same bits (9 for F32, 17 for F64);
// non-finite values as the strings "nan", "inf", "-inf".
//
// usage: dump_checkpoint FILE.safetensors      (exit 0; 2 when the file is refused)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace {

template <class T>
T load_le(const std::string& bytes, size_t i) {
  T v;
  std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
  return v;
}

std::string float_text(double v, int digits) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  return fmt::format("{:.{}g}", v, digits);
}

// The values as a JSON array (written by hand so the digits are exactly the ones asked for).
std::string values_json(const elr::SafeTensor& t) {
  std::string out = "[";
  auto add = [&](const std::string& s, size_t i) { out += (i ? "," : "") + s; };
  if (t.dtype == "F32") {
    for (size_t i = 0; i < t.bytes.size() / 4; ++i) add(float_text(load_le<float>(t.bytes, i), 9), i);
  } else if (t.dtype == "F64") {
    for (size_t i = 0; i < t.bytes.size() / 8; ++i) add(float_text(load_le<double>(t.bytes, i), 17), i);
  } else if (t.dtype == "I64") {
    for (size_t i = 0; i < t.bytes.size() / 8; ++i) add(std::to_string(load_le<int64_t>(t.bytes, i)), i);
  } else if (t.dtype == "I32") {
    for (size_t i = 0; i < t.bytes.size() / 4; ++i) add(std::to_string(load_le<int32_t>(t.bytes, i)), i);
  } else if (t.dtype == "U8") {
    for (size_t i = 0; i < t.bytes.size(); ++i) add(std::to_string(static_cast<uint8_t>(t.bytes[i])), i);
  } else {
    return "null";  // a dtype this dump does not decode: only names, dtypes and shapes are compared
  }
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FILE.safetensors\n", argv[0]);
    return 2;
  }
  try {
    const elr::SafeTensorsFile file = elr::load_safetensors(argv[1]);
    std::string out = "{\"metadata\":" + nlohmann::json(file.metadata).dump() + ",\"tensors\":[";
    bool first = true;
    for (const auto& [name, t] : file.tensors) {
      out += first ? "\n" : ",\n";
      first = false;
      out += fmt::format("{{\"name\":{},\"dtype\":{},\"shape\":{},\"values\":{}}}", nlohmann::json(name).dump(),
                         nlohmann::json(t.dtype).dump(), nlohmann::json(t.shape).dump(), values_json(t));
    }
    out += "\n]}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
  } catch (const elr::Error& e) {
    std::fprintf(stderr, "dump_checkpoint: %s\n", e.what());
    return 2;
  }
}
