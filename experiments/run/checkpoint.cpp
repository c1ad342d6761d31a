#include "experiments/run/checkpoint.h"

#include <set>

#include "engine/error.h"
#include "engine/files.h"

namespace elr {

namespace {

const char* kFormat = "elrscope-checkpoint-2";
const char* kOlderFormat = "elrscope-checkpoint-1";  // without a checksum
const char* kMomentumPrefix = "optimizer.momentum.";

void restore(const SafeTensorsFile& file, const std::string& name, Tensor& dst, const std::string& path) {
  const SafeTensor& t = file.get(name, path);
  if (t.dtype != "F32" || t.shape != dst.shape())
    throw UserError(fmt::format("checkpoint '{}': tensor '{}' is {}{}, the model has f32{}", path, name, t.dtype,
                                shape_str(t.shape), shape_str(dst.shape())));
  std::vector<float> v = file.get_f32(name, path);
  dst.copy_from(Tensor::from_vector(dst.shape(), v));
}

int64_t metadata_int(const SafeTensorsFile& f, const std::string& key, const std::string& path) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) throw UserError(fmt::format("checkpoint '{}' lacks metadata '{}'", path, key));
  try {
    size_t used = 0;
    const int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  throw UserError(fmt::format("checkpoint '{}': metadata '{}' = '{}' is not an integer", path, key, it->second));
}

double metadata_double(const SafeTensorsFile& f, const std::string& key, const std::string& path) {
  try {
    return std::stod(f.metadata.at(key));  // also nan and inf, as format_double writes them
  } catch (const std::exception&) {
    throw UserError(fmt::format("checkpoint '{}': bad or missing metadata '{}'", path, key));
  }
}

void check_format_and_checksum(const SafeTensorsFile& f, const std::string& path) {
  auto format = f.metadata.find("format");
  if (format != f.metadata.end() && format->second == kOlderFormat)
    throw UserError(fmt::format("checkpoint '{}' was written by an older elrscope ({}, without a checksum); "
                                "start the run over with --overwrite",
                                path, kOlderFormat));
  if (format == f.metadata.end() || format->second != kFormat)
    throw UserError(fmt::format("checkpoint '{}' was not written by elrscope (metadata 'format' is missing or not '{}')",
                                path, kFormat));
  auto stored = f.metadata.find("checksum");
  if (stored == f.metadata.end()) throw UserError(fmt::format("checkpoint '{}' lacks metadata 'checksum'", path));
  const std::string computed = checkpoint_checksum(f);
  if (stored->second != computed)
    throw UserError(fmt::format("checkpoint '{}' is damaged: its contents do not match its checksum (stored {}, "
                                "computed {})",
                                path, stored->second, computed));
}

// The settings the checkpoint was written under must give the run's numbers.
void check_settings(const SafeTensorsFile& f, const std::string& path, const TrainConfig& run) {
  nlohmann::json stored;
  try {
    stored = nlohmann::json::parse(f.metadata.at("config"));
  } catch (const std::exception&) {
    throw UserError(fmt::format("checkpoint '{}': metadata 'config' is missing or not JSON", path));
  }
  const TrainConfig written = config_from_json(stored, fmt::format("checkpoint '{}' (metadata 'config')", path));
  const std::string key = trajectory_difference(written, run);
  if (!key.empty())
    throw UserError(fmt::format("checkpoint '{}' was written with {} = {}, but the run has {} = {} (config.json); "
                                "a run continues only with the settings it started with",
                                path, key, config_to_json(written).at(key).dump(), key,
                                config_to_json(run).at(key).dump()));
}

}  // namespace

// FNV-1a over the tensors' bytes (name order: the order of the data section) and the metadata
// other than the checksum itself.
std::string checkpoint_checksum(const SafeTensorsFile& f) {
  uint64_t h = 14695981039346656037ull;
  auto add = [&h](const std::string& bytes) {
    for (unsigned char b : bytes) {
      h ^= b;
      h *= 1099511628211ull;
    }
  };
  for (const auto& [name, t] : f.tensors) add(t.bytes);
  for (const auto& [key, value] : f.metadata) {
    if (key == "checksum") continue;
    add(key);
    add(std::string(1, '\0'));
    add(value);
    add(std::string(1, '\0'));
  }
  return fmt::format("{:016x}", h);
}

void save_checkpoint(const std::string& path, Module& model, Sgd& sgd, const TrainState& state,
                     const nlohmann::json& config) {
  SafeTensorsFile f;
  std::vector<Parameter*> params = model.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor host = params[i]->value.to(Device::cpu());
    f.put_f32(params[i]->name, host.shape(), host.data());
    const Tensor& v = sgd.momentum_buffers()[i];
    if (v.defined()) {
      const Tensor vh = v.to(Device::cpu());
      f.put_f32(kMomentumPrefix + params[i]->name, vh.shape(), vh.data());
    }
  }
  for (Buffer* b : model.buffers()) {
    const Tensor host = b->value.to(Device::cpu());
    f.put_f32(b->name, host.shape(), host.data());
  }
  f.metadata = {{"format", kFormat},
                {"next_step", std::to_string(state.next_step)},
                {"data_epoch", std::to_string(state.data_epoch)},
                {"data_index", std::to_string(state.data_index)},
                {"correct", std::to_string(state.correct)},
                {"seen", std::to_string(state.seen)},
                {"reference_elr", fmt::format("{}", state.reference_elr)},
                {"last_loss", format_double(state.last_loss)},
                {"config", config.dump()}};
  f.metadata["checksum"] = checkpoint_checksum(f);
  write_file_atomic(path, serialize_safetensors(f));
}

TrainState load_checkpoint(const std::string& path, Module& model, Sgd& sgd, const TrainConfig* run) {
  SafeTensorsFile f = load_safetensors(path);
  check_format_and_checksum(f, path);
  if (run) check_settings(f, path, *run);
  TrainState s;
  s.next_step = metadata_int(f, "next_step", path);
  s.data_epoch = metadata_int(f, "data_epoch", path);
  s.data_index = metadata_int(f, "data_index", path);
  s.correct = metadata_int(f, "correct", path);
  s.seen = metadata_int(f, "seen", path);
  s.reference_elr = metadata_double(f, "reference_elr", path);
  s.last_loss = metadata_double(f, "last_loss", path);
  if (s.next_step < 0 || s.data_epoch < 0 || s.data_index < 0)
    throw UserError(fmt::format("checkpoint '{}': negative step or data position", path));

  // Exactly the model's tensors: every parameter and buffer, and a momentum buffer per parameter
  // once SGD with momentum has taken a step (none otherwise).
  const bool has_momentum = sgd.config().momentum > 0 && s.next_step > 0;
  std::set<std::string> expected;
  std::vector<Parameter*> params = model.parameters();
  for (const Parameter* p : params) {
    expected.insert(p->name);
    if (has_momentum) expected.insert(kMomentumPrefix + p->name);
  }
  for (const Buffer* b : model.buffers()) expected.insert(b->name);
  for (const auto& [name, t] : f.tensors)
    if (!expected.count(name))
      throw UserError(fmt::format("checkpoint '{}' holds tensor '{}', which this run's model and optimizer do not have",
                                  path, name));
  for (size_t i = 0; i < params.size(); ++i) {
    restore(f, params[i]->name, params[i]->value, path);
    Tensor& v = sgd.momentum_buffers()[i];
    if (has_momentum) {
      if (!v.defined()) v = Tensor::empty(params[i]->value.shape(), DType::F32, params[i]->value.device());
      restore(f, kMomentumPrefix + params[i]->name, v, path);
    } else {
      v = Tensor();
    }
  }
  for (Buffer* b : model.buffers()) restore(f, b->name, b->value, path);
  sgd.set_steps_taken(s.next_step);
  return s;
}

}  // namespace elr
