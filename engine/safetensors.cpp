#include "engine/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace elr {

namespace {

int64_t dtype_bytes(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "U8" || dtype == "I8" || dtype == "BOOL") return 1;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16") return 2;
  return 0;
}

[[noreturn]] void bad(const std::string& source, const std::string& what) {
  throw UserError(fmt::format("'{}' is not a valid safetensors file: {}", source, what));
}

}  // namespace

void SafeTensorsFile::put_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  tensors[name] = SafeTensor{"F32", shape, std::string(reinterpret_cast<const char*>(data), n * sizeof(float))};
}

void SafeTensorsFile::put_f64(const std::string& name, const std::vector<int64_t>& shape, const double* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  tensors[name] = SafeTensor{"F64", shape, std::string(reinterpret_cast<const char*>(data), n * sizeof(double))};
}

const SafeTensor& SafeTensorsFile::get(const std::string& name, const std::string& source) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw UserError(fmt::format("'{}' has no tensor named '{}'", source, name));
  return it->second;
}

std::vector<float> SafeTensorsFile::get_f32(const std::string& name, const std::string& source) const {
  const SafeTensor& t = get(name, source);
  if (t.dtype != "F32") throw UserError(fmt::format("'{}': tensor '{}' is {}, expected F32", source, name, t.dtype));
  std::vector<float> v(t.bytes.size() / sizeof(float));
  std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(float));
  return v;
}

std::string serialize_safetensors(const SafeTensorsFile& file) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  size_t offset = 0;
  for (const auto& [name, t] : file.tensors) {
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string json = header.dump();
  while (json.size() % 8 != 0) json.push_back(' ');  // the data starts 8-byte aligned
  std::string out(8, '\0');
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  out += json;
  for (const auto& [name, t] : file.tensors) out += t.bytes;
  return out;
}

SafeTensorsFile parse_safetensors(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 8) bad(source, fmt::format("{} bytes, shorter than the 8-byte header length", bytes.size()));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8) bad(source, fmt::format("header length {} exceeds the file ({} bytes): truncated?", n, bytes.size()));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(n));
  } catch (const std::exception&) {
    bad(source, "the header is not valid JSON");
  }
  if (!header.is_object()) bad(source, "the header is not a JSON object");
  const size_t data_start = 8 + n, data_size = bytes.size() - data_start;
  SafeTensorsFile file;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) bad(source, "__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) bad(source, fmt::format("metadata '{}' is not a string", m.key()));
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const nlohmann::json& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets") ||
        !e["dtype"].is_string() || !e["shape"].is_array() || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
      bad(source, fmt::format("tensor '{}' lacks dtype, shape or data_offsets", it.key()));
    SafeTensor t;
    t.dtype = e["dtype"].get<std::string>();
    const int64_t width = dtype_bytes(t.dtype);
    if (width == 0) bad(source, fmt::format("tensor '{}' has unknown dtype '{}'", it.key(), t.dtype));
    uint64_t count = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned()) bad(source, fmt::format("tensor '{}' has a bad dimension", it.key()));
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && count > (uint64_t{1} << 40) / dim) bad(source, fmt::format("tensor '{}' is impossibly large", it.key()));
      count *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    if (!e["data_offsets"][0].is_number_unsigned() || !e["data_offsets"][1].is_number_unsigned())
      bad(source, fmt::format("tensor '{}' has bad data_offsets", it.key()));
    const uint64_t begin = e["data_offsets"][0].get<uint64_t>(), end = e["data_offsets"][1].get<uint64_t>();
    if (begin > end || end > data_size)
      bad(source, fmt::format("tensor '{}' spans bytes {}..{} of a {}-byte data section: truncated?", it.key(), begin,
                              end, data_size));
    if (end - begin != count * static_cast<uint64_t>(width))
      bad(source, fmt::format("tensor '{}' has {} bytes for shape {} of {}", it.key(), end - begin,
                              nlohmann::json(t.shape).dump(), t.dtype));
    t.bytes = bytes.substr(data_start + begin, end - begin);
    ranges.emplace_back(begin, end);
    file.tensors[it.key()] = std::move(t);
  }
  // The tensors must tile the data section exactly: no overlaps, no holes.
  std::sort(ranges.begin(), ranges.end());
  uint64_t next = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin != next) bad(source, fmt::format("tensor data overlaps or leaves a hole at byte {}", std::min(begin, next)));
    next = end;
  }
  if (next != data_size) bad(source, fmt::format("the tensors cover {} of {} data bytes", next, data_size));
  return file;
}

SafeTensorsFile load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(fmt::format("cannot read checkpoint '{}'", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_safetensors(ss.str(), path);
}

}  // namespace elr
