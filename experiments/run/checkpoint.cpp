#include "experiments/run/checkpoint.h"

#include "engine/error.h"
#include "engine/files.h"
#include "engine/safetensors.h"

namespace elr {

namespace {

const char* kFormat = "elrscope-checkpoint-1";

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

}  // namespace

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
      f.put_f32("optimizer.momentum." + params[i]->name, vh.shape(), vh.data());
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
                {"config", config.dump()}};
  write_file_atomic(path, serialize_safetensors(f));
}

TrainState load_checkpoint(const std::string& path, Module& model, Sgd& sgd) {
  SafeTensorsFile f = load_safetensors(path);
  auto format = f.metadata.find("format");
  if (format == f.metadata.end() || format->second != kFormat)
    throw UserError(fmt::format("checkpoint '{}' was not written by elrscope (metadata 'format' is missing or not '{}')",
                                path, kFormat));
  std::vector<Parameter*> params = model.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    restore(f, params[i]->name, params[i]->value, path);
    const std::string vname = "optimizer.momentum." + params[i]->name;
    Tensor& v = sgd.momentum_buffers()[i];
    if (f.tensors.count(vname)) {
      if (!v.defined()) v = Tensor::empty(params[i]->value.shape(), DType::F32, params[i]->value.device());
      restore(f, vname, v, path);
    } else {
      v = Tensor();
    }
  }
  for (Buffer* b : model.buffers()) restore(f, b->name, b->value, path);
  TrainState s;
  s.next_step = metadata_int(f, "next_step", path);
  s.data_epoch = metadata_int(f, "data_epoch", path);
  s.data_index = metadata_int(f, "data_index", path);
  s.correct = metadata_int(f, "correct", path);
  s.seen = metadata_int(f, "seen", path);
  try {
    s.reference_elr = std::stod(f.metadata.at("reference_elr"));
  } catch (const std::exception&) {
    throw UserError(fmt::format("checkpoint '{}': bad or missing metadata 'reference_elr'", path));
  }
  if (s.next_step < 0 || s.data_epoch < 0 || s.data_index < 0)
    throw UserError(fmt::format("checkpoint '{}': negative step or data position", path));
  sgd.set_steps_taken(s.next_step);
  return s;
}

}  // namespace elr
