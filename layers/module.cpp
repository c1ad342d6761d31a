#include "layers/module.h"

#include "engine/error.h"

namespace elr {

const char* param_kind_name(ParamKind k) {
  switch (k) {
    case ParamKind::Conv: return "conv";
    case ParamKind::Linear: return "linear";
    case ParamKind::BnWeight: return "bn_weight";
    case ParamKind::BnBias: return "bn_bias";
    case ParamKind::Classifier: return "classifier";
  }
  return "?";
}

Parameter& Module::add_parameter(const std::string& name, ParamKind kind, Tensor value) {
  auto p = std::make_unique<Parameter>();
  p->name = name;
  p->kind = kind;
  p->value = std::move(value);
  p->value.set_requires_grad(true);
  params_.emplace_back(name, std::move(p));
  return *params_.back().second;
}

Buffer& Module::add_buffer(const std::string& name, Tensor value) {
  auto b = std::make_unique<Buffer>();
  b->name = name;
  b->value = std::move(value);
  buffers_.emplace_back(name, std::move(b));
  return *buffers_.back().second;
}

void Module::collect(const std::string& prefix, std::vector<Parameter*>& params, std::vector<Buffer*>& bufs) {
  for (auto& [local, p] : params_) {
    p->name = prefix + local;
    params.push_back(p.get());
  }
  for (auto& [local, b] : buffers_) {
    b->name = prefix + local;
    bufs.push_back(b.get());
  }
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", params, bufs);
}

std::vector<Parameter*> Module::parameters() {
  std::vector<Parameter*> params;
  std::vector<Buffer*> bufs;
  collect("", params, bufs);
  return params;
}

std::vector<Buffer*> Module::buffers() {
  std::vector<Parameter*> params;
  std::vector<Buffer*> bufs;
  collect("", params, bufs);
  return bufs;
}

void Module::reset_parameters(uint64_t seed) {
  uint64_t stream = 0;
  reset_recursive(seed, stream);
}

void Module::reset_recursive(uint64_t seed, uint64_t& stream) {
  reset_own(seed, stream);
  for (auto& [name, child] : children_) child->reset_recursive(seed, stream);
}

void Module::to(Device device) {
  for (Parameter* p : parameters()) {
    p->value = p->value.to(device);
    p->value.set_requires_grad(true);
  }
  for (Buffer* b : buffers()) b->value = b->value.to(device);
}

void Module::for_each_module(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [name, child] : children_) child->for_each_module(fn);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

}  // namespace elr
