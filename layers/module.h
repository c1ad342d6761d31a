// Module and Parameter. A Parameter carries the metadata the ELR statistics need: a state_dict-style
// name, its kind, and whether the loss is invariant to its scale (a weight feeding a BatchNorm).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace elr {

enum class ParamKind { Conv, Linear, BnWeight, BnBias, Classifier };
const char* param_kind_name(ParamKind k);

struct Parameter {
  std::string name;  // full state_dict-style name, e.g. "layers.3.conv.weight"
  ParamKind kind = ParamKind::Conv;
  bool scale_invariant = false;
  Tensor value;  // requires_grad; .grad() after backward
};

// A named non-trainable tensor (BN running statistics).
struct Buffer {
  std::string name;
  Tensor value;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  virtual std::string type_name() const = 0;

  // Every parameter / buffer of this module and its children, in registration order, with full
  // names ("prefix.child.name").
  std::vector<Parameter*> parameters();
  std::vector<Buffer*> buffers();
  void train(bool on = true);
  // Moves every parameter and buffer to `device` (in place: layers keep their Parameter pointers).
  void to(Device device);
  // Initializes every parameter and buffer (torch.nn.init conventions, Philox streams derived
  // from seed and the parameter's position, so the same seed gives the same weights everywhere).
  void reset_parameters(uint64_t seed);
  bool training() const { return training_; }
  // Calls fn on this module and every module below it, parents before their children.
  void for_each_module(const std::function<void(Module&)>& fn);

 protected:
  Parameter& add_parameter(const std::string& name, ParamKind kind, Tensor value);
  Buffer& add_buffer(const std::string& name, Tensor value);
  template <class M>
  M& add_child(const std::string& name, std::shared_ptr<M> m) {
    children_.push_back({name, m});
    return *m;
  }
  // Initializes this module's own parameters; `stream` advances by one per tensor drawn.
  virtual void reset_own(uint64_t seed, uint64_t& stream) {}
  bool training_ = true;

 private:
  void reset_recursive(uint64_t seed, uint64_t& stream);
  void collect(const std::string& prefix, std::vector<Parameter*>& params, std::vector<Buffer*>& bufs);
  // Local names ("weight"); the full name is written into Parameter::name when collected.
  std::vector<std::pair<std::string, std::unique_ptr<Parameter>>> params_;
  std::vector<std::pair<std::string, std::unique_ptr<Buffer>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace elr
