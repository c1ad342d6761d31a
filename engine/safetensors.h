// The safetensors file format (a JSON header of names, dtypes, shapes and byte ranges, then the
// raw little-endian data), so checkpoints load in PyTorch / the `safetensors` package unchanged.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace elr {

struct SafeTensor {
  std::string dtype;  // "F32", "I32", "I64", "F64", "U8"
  std::vector<int64_t> shape;
  std::string bytes;  // raw little-endian data
};

struct SafeTensorsFile {
  std::map<std::string, std::string> metadata;  // "__metadata__": string to string
  std::map<std::string, SafeTensor> tensors;    // written in name order

  void put_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data);
  void put_f64(const std::string& name, const std::vector<int64_t>& shape, const double* data);
  const SafeTensor& get(const std::string& name, const std::string& source) const;  // UserError when absent
  std::vector<float> get_f32(const std::string& name, const std::string& source) const;
};

std::string serialize_safetensors(const SafeTensorsFile& file);
// `source` names the file in error messages. Every malformation is a UserError.
SafeTensorsFile parse_safetensors(const std::string& bytes, const std::string& source);
SafeTensorsFile load_safetensors(const std::string& path);

}  // namespace elr
