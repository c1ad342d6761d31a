// Reader for the golden tensors PyTorch wrote (tests/fixtures/*.bin, made by gen_fixtures.py),
// and the comparison that checks a result against one of them with the tolerance its name selects
// (the op-case table's checker and tolerances, kernels/optable/check.h).
//
// File format "ELRFIX", version 1, little-endian:
//   char[6] "ELRFIX"; uint32 version; uint32 tensor count; then per tensor:
//   uint32 name length; name bytes; uint32 dtype (0 = f32, 1 = i32, 2 = f64); uint32 ndim;
//   int64 dims[ndim]; raw data, row-major.
#pragma once
#include "elr_test_paths.h"
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "engine/error.h"
#include "kernels/optable/check.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "fixtures are little-endian; add byte swapping here");

namespace elr::testing {

enum class FixtureDtype : uint32_t { f32 = 0, i32 = 1, f64 = 2 };

inline const char* dtype_name(FixtureDtype d) {
  switch (d) {
    case FixtureDtype::f32: return "f32";
    case FixtureDtype::i32: return "i32";
    case FixtureDtype::f64: return "f64";
  }
  return "?";
}

class Fixture {
 public:
  static constexpr char kMagic[6] = {'E', 'L', 'R', 'F', 'I', 'X'};
  static constexpr uint32_t kVersion = 1;

  static Fixture load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    ELR_CHECK(in, "fixture '{}': cannot open the file (regenerate with: /usr/bin/python3 tests/fixtures/gen_fixtures.py)",
              path);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return parse(bytes, path);
  }

  // `source` names the data in error messages (the file path when loaded from disk).
  static Fixture parse(const std::string& bytes, const std::string& source) {
    Fixture f;
    f.source_ = source;
    Cursor cur{bytes, 0, source};
    ELR_CHECK(bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0,
              "fixture '{}': bad magic (expected \"ELRFIX\"): not a fixture file", source);
    cur.pos = sizeof(kMagic);
    const uint32_t version = cur.u32("the version");
    ELR_CHECK(version == kVersion, "fixture '{}': format version {}, this reader understands version {}", source,
              version, kVersion);
    const uint32_t count = cur.u32("the tensor count");
    for (uint32_t i = 0; i < count; ++i) {
      const std::string what = fmt::format("tensor {} of {}", i, count);
      const uint32_t name_len = cur.u32(what + ": name length");
      ELR_CHECK(name_len > 0 && name_len <= 4096, "fixture '{}': {}: implausible name length {}", source, what,
                name_len);
      std::string name = cur.take(name_len, what + ": name");
      Entry e;
      const uint32_t dtype = cur.u32("'" + name + "': dtype");
      ELR_CHECK(dtype <= 2, "fixture '{}': '{}': unknown dtype code {}", source, name, dtype);
      e.dtype = static_cast<FixtureDtype>(dtype);
      const uint32_t ndim = cur.u32("'" + name + "': ndim");
      ELR_CHECK(ndim <= 8, "fixture '{}': '{}': implausible ndim {}", source, name, ndim);
      e.numel = 1;
      for (uint32_t d = 0; d < ndim; ++d) {
        int64_t dim = 0;
        std::memcpy(&dim, cur.take(8, "'" + name + "': dims").data(), 8);
        ELR_CHECK(dim >= 0 && dim < (int64_t(1) << 32), "fixture '{}': '{}': bad dimension {}", source, name, dim);
        e.shape.push_back(dim);
        e.numel *= dim;
      }
      const int64_t nbytes = e.numel * (e.dtype == FixtureDtype::f64 ? 8 : 4);
      e.bytes = cur.take(static_cast<size_t>(nbytes), "'" + name + "': data");
      ELR_CHECK(!f.entries_.count(name), "fixture '{}': tensor '{}' appears twice", source, name);
      f.order_.push_back(name);
      f.entries_.emplace(std::move(name), std::move(e));
    }
    ELR_CHECK(cur.pos == bytes.size(), "fixture '{}': {} unexpected bytes after the last of {} tensors", source,
              bytes.size() - cur.pos, count);
    return f;
  }

  const std::string& source() const { return source_; }
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  const std::vector<std::string>& names() const { return order_; }
  const std::vector<int64_t>& shape(const std::string& name) const { return entry(name).shape; }
  int64_t numel(const std::string& name) const { return entry(name).numel; }
  FixtureDtype dtype(const std::string& name) const { return entry(name).dtype; }

  // f32 as stored; f64 rounded to float.
  std::vector<float> floats(const std::string& name) const {
    const Entry& e = entry(name);
    if (e.dtype == FixtureDtype::f32) return values<float, float>(e);
    ELR_CHECK(e.dtype == FixtureDtype::f64, "fixture '{}': '{}' is {}, not a float tensor", source_, name,
              dtype_name(e.dtype));
    return values<double, float>(e);
  }
  // f64 as stored; f32 widened.
  std::vector<double> doubles(const std::string& name) const {
    const Entry& e = entry(name);
    if (e.dtype == FixtureDtype::f64) return values<double, double>(e);
    ELR_CHECK(e.dtype == FixtureDtype::f32, "fixture '{}': '{}' is {}, not a float tensor", source_, name,
              dtype_name(e.dtype));
    return values<float, double>(e);
  }
  std::vector<int32_t> ints(const std::string& name) const {
    const Entry& e = entry(name);
    ELR_CHECK(e.dtype == FixtureDtype::i32, "fixture '{}': '{}' is {}, not i32", source_, name, dtype_name(e.dtype));
    return values<int32_t, int32_t>(e);
  }
  // The single value of a one-element float tensor.
  double scalar(const std::string& name) const {
    std::vector<double> v = doubles(name);
    ELR_CHECK(v.size() == 1, "fixture '{}': '{}' has {} elements, expected a scalar", source_, name, v.size());
    return v[0];
  }

 private:
  struct Entry {
    FixtureDtype dtype = FixtureDtype::f32;
    std::vector<int64_t> shape;
    int64_t numel = 0;
    std::string bytes;
  };
  struct Cursor {
    const std::string& bytes;
    size_t pos;
    const std::string& source;
    std::string take(size_t n, const std::string& what) {
      ELR_CHECK(bytes.size() - pos >= n, "fixture '{}': truncated: {} needs {} bytes at offset {}, only {} left",
                source, what, n, pos, bytes.size() - pos);
      std::string out = bytes.substr(pos, n);
      pos += n;
      return out;
    }
    uint32_t u32(const std::string& what) {
      uint32_t v = 0;
      std::memcpy(&v, take(4, what).data(), 4);
      return v;
    }
  };

  const Entry& entry(const std::string& name) const {
    auto it = entries_.find(name);
    ELR_CHECK(it != entries_.end(), "fixture '{}': no tensor named '{}' ({} tensors in the file)", source_, name,
              entries_.size());
    return it->second;
  }
  template <class Stored, class Out>
  static std::vector<Out> values(const Entry& e) {
    std::vector<Stored> raw(static_cast<size_t>(e.numel));
    if (!raw.empty()) std::memcpy(raw.data(), e.bytes.data(), raw.size() * sizeof(Stored));
    return std::vector<Out>(raw.begin(), raw.end());
  }

  std::string source_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;
};

#ifdef ELR_TEST_DIR
// tests/fixtures/<file> in the source tree.
inline std::string fixture_path(const std::string& file) { return std::string(ELR_TEST_DIR) + "/fixtures/" + file; }
#endif

// ---- comparison ---------------------------------------------------------------------------------

using kernels::Tolerance;
using kernels::tolerance_rule_for;

// Checks actual against expected with the tolerance looked up by `name`; reports the max diff,
// its index and the % of the threshold used. `reduction_length` is the length of the sum behind
// each output value (it scales atol by its square root).
template <class A, class E>
bool compare(const std::string& name, const std::vector<A>& actual, const std::vector<E>& expected,
             int64_t reduction_length = 1, const std::vector<int64_t>& shape = {}) {
  const kernels::ToleranceRule& rule = tolerance_rule_for(name);
  const kernels::Closeness c = kernels::evaluate_closeness(actual, expected, rule.tol, reduction_length);
  INFO(name << ": " << (c.ok ? "" : "FAILED: ") << kernels::describe_closeness(c, rule.pattern, rule.tol,
                                                                                 reduction_length, shape));
  CHECK(c.ok);
  return c.ok;
}

// Compares against the fixture tensor `name`; a missing tensor fails the check.
template <class A>
bool compare(const Fixture& fixture, const std::string& name, const std::vector<A>& actual,
             int64_t reduction_length = 1) {
  if (!fixture.has(name)) {
    FAIL_CHECK(fmt::format("fixture '{}' has no tensor named '{}'", fixture.source(), name));
    return false;
  }
  return compare(name, actual, fixture.doubles(name), reduction_length, fixture.shape(name));
}

// Integers (labels, counts, indices) must match exactly.
template <class A>
bool compare_exact(const Fixture& fixture, const std::string& name, const std::vector<A>& actual) {
  if (!fixture.has(name)) {
    FAIL_CHECK(fmt::format("fixture '{}' has no tensor named '{}'", fixture.source(), name));
    return false;
  }
  const std::vector<int32_t> expected = fixture.ints(name);
  size_t mismatches = 0, first = 0;
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i)
    if (static_cast<int64_t>(actual[i]) != expected[i] && mismatches++ == 0) first = i;
  INFO(fmt::format("{}: {} values, {} mismatches{}", name, expected.size(), mismatches,
                   mismatches ? fmt::format(", first at {}: actual {} expected {}",
                                            kernels::format_index(first, fixture.shape(name)),
                                            static_cast<int64_t>(actual[first]), expected[first])
                              : ""));
  CHECK(actual.size() == expected.size());
  CHECK(mismatches == 0);
  return actual.size() == expected.size() && mismatches == 0;
}

}  // namespace elr::testing
