// The entry points the fuzz targets (fuzz/fuzz_*.cpp) and the corpus replay test
// (tests/test_fuzz_corpus.cpp) share: each turns arbitrary bytes into one input of a reader or of
// the option parser. An entry either returns (the input was accepted, and what came out passed
// its invariant checks) or throws elr::Error / elr::UserError (the input was rejected with a
// message). Anything else -- a crash, a sanitizer report, another exception type, including
// InvariantBroken when an accepted input produced inconsistent data -- is a bug.
#pragma once
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "experiments/cli/train_command.h"
#include "experiments/data/dataset.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/train.h"
#include "layers/models.h"
#include "optim/sgd.h"

namespace elr::fuzz {

// An accepted input whose result is inconsistent: deliberately not an elr::Error.
struct InvariantBroken : std::logic_error {
  using std::logic_error::logic_error;
};

inline void require(bool ok, const std::string& what) {
  if (!ok) throw InvariantBroken(what);
}

// A folder private to this process (in /dev/shm when there is one: the readers take paths, and
// every input is written to files first), removed when the process exits normally.
class ScratchDir {
 public:
  static const std::string& path() {
    static ScratchDir dir;
    return dir.path_;
  }

 private:
  ScratchDir() {
    std::error_code ec;
    std::string base = std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                           ? "/dev/shm"
                           : std::filesystem::temp_directory_path().string();
    std::string pattern = base + "/elr-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a scratch folder in " + base);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path_;
};

// Empties the scratch folder and returns it.
inline std::string fresh_scratch() {
  const std::string& dir = ScratchDir::path();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) std::filesystem::remove_all(entry.path(), ec);
  return dir;
}

inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  if (size > 0 && std::fwrite(data, 1, size, f) != size) {
    std::fclose(f);
    throw std::runtime_error("cannot write " + path);
  }
  std::fclose(f);
}

inline void write_gzip(const std::string& path, const uint8_t* data, size_t size) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  if (size > 0) gzwrite(f, data, static_cast<unsigned>(size));
  gzclose(f);
}

// ---- Fashion-MNIST IDX ---------------------------------------------------------------------------
// Input: byte 0 = flags, bytes 1..2 = images-file length L (little-endian), then L bytes of the
// images file and the rest as the labels file. Flags: bit 0 test split (t10k-*), bit 1 images
// gzip-compressed here, bit 2 labels gzip-compressed here, bit 3 images stored raw under the .gz
// name (so the reader meets a non-gzip or corrupt-gzip file), bit 4 the same for the labels.
inline void idx_entry(const uint8_t* data, size_t size) {
  if (size < 3) return;
  const uint8_t flags = data[0];
  const size_t images_len = std::min<size_t>(size - 3, static_cast<size_t>(data[1]) | (static_cast<size_t>(data[2]) << 8));
  const uint8_t* images = data + 3;
  const uint8_t* labels = images + images_len;
  const size_t labels_len = size - 3 - images_len;
  const bool train = (flags & 1) == 0;
  const std::string dir = fresh_scratch(), prefix = train ? "train" : "t10k";
  auto put = [&](const std::string& name, const uint8_t* bytes, size_t n, bool compress, bool raw_as_gz) {
    const std::string path = dir + "/" + prefix + name;
    if (compress)
      write_gzip(path + ".gz", bytes, n);
    else
      write_bytes(raw_as_gz ? path + ".gz" : path, bytes, n);
  };
  put("-images-idx3-ubyte", images, images_len, flags & 2, flags & 8);
  put("-labels-idx1-ubyte", labels, labels_len, flags & 4, flags & 16);

  const Dataset d = load_fashion_mnist(dir, train);
  require(d.channels == 1 && d.height == 28 && d.width == 28 && d.classes == 10, "IDX: wrong image shape or classes");
  require(d.size() > 0, "IDX: accepted a file with no images");
  require(static_cast<int64_t>(d.images.size()) == d.size() * 784, "IDX: pixel bytes do not match the label count");
  for (int32_t label : d.labels) require(label >= 0 && label < 10, "IDX: label out of range accepted");
}

// ---- CIFAR binary --------------------------------------------------------------------------------
// Input: byte 0 = flags (bit 0 CIFAR-100, bit 1 test split, bit 2 files inside the archive's
// folder), then the file contents; CIFAR-10's five training batches get consecutive fifths.
inline void cifar_entry(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const uint8_t flags = data[0];
  const int variant = (flags & 1) ? 100 : 10;
  const bool train = (flags & 2) == 0;
  const std::string root = fresh_scratch();
  std::string dir = root;
  if (flags & 4) {
    dir = root + (variant == 10 ? "/cifar-10-batches-bin" : "/cifar-100-binary");
    std::filesystem::create_directory(dir);
  }
  std::vector<std::string> names;
  if (variant == 10 && train)
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  else if (variant == 10)
    names.push_back("test_batch.bin");
  else
    names.push_back(train ? "train.bin" : "test.bin");
  const uint8_t* body = data + 1;
  const size_t body_len = size - 1, parts = names.size();
  for (size_t k = 0; k < parts; ++k) {
    const size_t begin = body_len * k / parts, end = body_len * (k + 1) / parts;
    write_bytes(dir + "/" + names[k], body + begin, end - begin);
  }

  const Dataset d = load_cifar(root, variant, train);
  const size_t record = variant == 10 ? 3073 : 3074;
  require(d.channels == 3 && d.height == 32 && d.width == 32 && d.classes == variant, "CIFAR: wrong shape or classes");
  require(static_cast<size_t>(d.size()) == body_len / record, "CIFAR: record count does not match the bytes");
  require(static_cast<int64_t>(d.images.size()) == d.size() * 3072, "CIFAR: pixel bytes do not match the label count");
  for (int32_t label : d.labels) require(label >= 0 && label < variant, "CIFAR: label out of range accepted");
}

// ---- safetensors and checkpoints -----------------------------------------------------------------
// The model whose checkpoints tests/fuzz_corpus/safetensors/ seeds with: what
// `elrscope train --model plain --depth 3 --width 4 --dataset synthetic` builds (16x16 grey images).
struct CheckpointTarget {
  std::shared_ptr<Module> model;
  std::unique_ptr<Sgd> sgd;
  CheckpointTarget() {
    ModelConfig mc;
    mc.name = "plain";
    mc.depth = 3;
    mc.width = 4;
    mc.in_channels = 1;
    mc.image_size = 16;
    mc.classes = 10;
    model = build_model(mc);
    model->reset_parameters(0);
    sgd = std::make_unique<Sgd>(model->parameters(), SgdConfig{0.9, 0.0, false});
  }
};

// Input: the file's bytes. Parsed; when accepted, checked to round-trip through the writer, and
// then loaded as a checkpoint into the seed model (which must match it or throw).
inline void safetensors_entry(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const SafeTensorsFile file = parse_safetensors(bytes, "fuzz.safetensors");
  size_t total = 0;
  for (const auto& [name, t] : file.tensors) {
    int64_t numel = 1;
    for (int64_t d : t.shape) {
      require(d >= 0, "safetensors: negative dimension accepted");
      numel *= d;
    }
    const size_t width = t.dtype == "F32" || t.dtype == "I32" ? 4 : t.dtype == "F64" || t.dtype == "I64" ? 8
                         : t.dtype == "F16" || t.dtype == "BF16" || t.dtype == "I16"                  ? 2
                                                                                                      : 1;
    require(t.bytes.size() == static_cast<size_t>(numel) * width, "safetensors: tensor bytes do not match its shape");
    total += t.bytes.size();
    if (t.dtype == "F32") require(file.get_f32(name, "fuzz").size() == static_cast<size_t>(numel), "get_f32 size");
  }
  require(total + 8 <= bytes.size(), "safetensors: tensors hold more bytes than the file");
  const SafeTensorsFile again = parse_safetensors(serialize_safetensors(file), "round trip");
  require(again.metadata == file.metadata, "safetensors: metadata changed in a round trip");
  require(again.tensors.size() == file.tensors.size(), "safetensors: tensor count changed in a round trip");
  for (const auto& [name, t] : file.tensors) {
    auto it = again.tensors.find(name);
    require(it != again.tensors.end() && it->second.dtype == t.dtype && it->second.shape == t.shape &&
                it->second.bytes == t.bytes,
            "safetensors: tensor '" + name + "' changed in a round trip");
  }

  static CheckpointTarget target;
  const std::string path = fresh_scratch() + "/checkpoint.safetensors";
  write_bytes(path, data, size);
  const TrainState s = load_checkpoint(path, *target.model, *target.sgd);
  require(s.next_step >= 0 && s.data_epoch >= 0 && s.data_index >= 0, "checkpoint: negative position accepted");
}

// ---- the command line (train options) and run configurations -------------------------------------
// Input starting with '{': a run's config.json, as --resume reads it (config_from_json, then
// validation). Otherwise the arguments of `elrscope train`, separated by NUL bytes, parsed and
// validated without running anything.
inline void cli_entry(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (!text.empty() && text[0] == '{') {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return;  // not JSON: read_json's business, not the config reader's
    validate_train_config(config_from_json(j, "fuzz/config.json"));
    return;
  }
  std::vector<std::string> args{"train"};
  size_t start = 0;
  while (start <= text.size() && args.size() < 64) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    args.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());

  TrainConfig cfg;
  CLI::App app{"fuzz"};
  add_train_options(app, cfg);
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError&) {
    return;  // rejected by the parser: run_cli prints it and exits 2
  }
  validate_train_config(cfg);
  require(cfg.batch >= 2 && cfg.lr > 0 && cfg.momentum >= 0 && cfg.momentum < 1, "cli: invalid options validated");
}

}  // namespace elr::fuzz
