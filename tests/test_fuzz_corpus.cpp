// Replays the fuzzing regression corpus (tests/fuzz_corpus/<target>/: seeds and former crashers)
// through the entry functions the libFuzzer targets call (fuzz/fuzz_entries.h), in the normal
// build: every file must either be accepted or be rejected with an elr::Error carrying a message.
// A crash fails the whole binary; any other exception type (InvariantBroken included) fails here.
#include "elr_test_paths.h"
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_entries.h"

namespace fs = std::filesystem;

namespace {

using Entry = void (*)(const uint8_t*, size_t);

struct Replay {
  int accepted = 0, rejected = 0;
};

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs every file of tests/fuzz_corpus/<target>/; files named valid_* must be accepted.
Replay replay(const std::string& target, Entry entry) {
  const fs::path dir = fs::path(ELR_TEST_DIR) / "fuzz_corpus" / target;
  REQUIRE(fs::is_directory(dir));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  Replay r;
  for (const fs::path& file : files) {
    const std::vector<uint8_t> bytes = read_bytes(file);
    const bool must_accept = file.filename().string().rfind("valid_", 0) == 0;
    INFO(target << " corpus file " << file.filename().string() << " (" << bytes.size() << " bytes)");
    try {
      entry(bytes.data(), bytes.size());
      ++r.accepted;
    } catch (const elr::Error& e) {
      ++r.rejected;
      INFO("rejected: " << e.what());
      CHECK(!must_accept);
      CHECK(std::string(e.what()).size() > 10);  // a message, not an empty throw
    } catch (const std::exception& e) {
      FAIL_CHECK("neither accepted nor rejected with an elr::Error: " << e.what());
    }
  }
  return r;
}

}  // namespace

TEST_CASE("fuzz corpus: IDX files are read or rejected with a message", "[fuzz][data][bad-input]") {
  Replay r = replay("idx", elr::fuzz::idx_entry);
  CHECK(r.accepted >= 3);  // the valid seeds: plain, gzip, mixed
  CHECK(r.rejected >= 5);
}

TEST_CASE("fuzz corpus: CIFAR files are read or rejected with a message", "[fuzz][data][bad-input]") {
  Replay r = replay("cifar", elr::fuzz::cifar_entry);
  CHECK(r.accepted >= 3);
  CHECK(r.rejected >= 3);
}

TEST_CASE("fuzz corpus: safetensors files and checkpoints are read or rejected with a message",
          "[fuzz][resume][bad-input]") {
  Replay r = replay("safetensors", elr::fuzz::safetensors_entry);
  CHECK(r.accepted >= 1);  // the real checkpoint round-trips and loads into its model
  CHECK(r.rejected >= 4);
}

TEST_CASE("fuzz corpus: train options and run configurations are parsed or rejected with a message",
          "[fuzz][cli][bad-input]") {
  Replay r = replay("cli", elr::fuzz::cli_entry);
  CHECK(r.accepted >= 4);
  CHECK(r.rejected >= 2);
}

TEST_CASE("fuzz corpus: an entry's invariant checks do fire", "[fuzz]") {
  // The entries' own checks must not be vacuous: a broken invariant is reported as a non-Error.
  CHECK_THROWS_AS(elr::fuzz::require(false, "test"), elr::fuzz::InvariantBroken);
  CHECK_NOTHROW(elr::fuzz::require(true, "test"));
  // Short inputs are ignored, not crashes.
  const uint8_t two[2] = {0, 0};
  CHECK_NOTHROW(elr::fuzz::idx_entry(two, 2));
  CHECK_NOTHROW(elr::fuzz::cifar_entry(two, 0));
}
