// The autograd tape. Each differentiable op run while grad mode is on (and with at least one input
// that requires grad) records a Node: its name, inputs, outputs and a backward function. backward()
// walks the tape in reverse, calls each node whose outputs received a gradient, and accumulates the
// gradients of its inputs. Leaves (parameters) keep their .grad; intermediate gradients are freed
// as soon as their node has run.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace elr::autograd {

struct Node {
  std::string op;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  // Reads outputs[i].grad() (undefined when that output got no gradient) and hands each input's
  // gradient to accumulate(). Empty when the op has no backward: reaching it is an error.
  std::function<void(Node&)> backward;

  Tensor output_grad(size_t i) const;  // the gradient arriving at outputs[i], or undefined
  // Adds g to inputs[i]'s gradient (g becomes it when there is none yet). No-op when inputs[i]
  // does not require grad.
  void accumulate(size_t i, const Tensor& g);
  bool needs_grad(size_t i) const { return inputs[i].requires_grad(); }
};

class Tape {
 public:
  // Records a node if grad mode is on and any input requires grad; marks the outputs as requiring
  // grad then. Returns the node (null when nothing was recorded).
  Node* record(std::string op, std::vector<Tensor> inputs, std::vector<Tensor> outputs,
               std::function<void(Node&)> backward);
  // Seeds d(loss)/d(loss) = 1 and runs the tape backward, then clears it.
  void backward(const Tensor& loss);
  void clear() { nodes_.clear(); }
  // True for the gradient backward() seeds the loss with (ones): ops may use its value, 1,
  // without reading it from a device.
  bool is_seed(const Tensor& g) const;
  size_t size() const { return nodes_.size(); }
  // Called after each node's backward, while its output gradients are still alive: the gradient
  // that arrived (node.output_grad(i)) and the inputs' accumulated gradients (inputs[i].grad())
  // can be read, e.g. to measure how much a BN backward amplifies the gradient norm.
  using Observer = std::function<void(const Node&)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }

 private:
  std::vector<std::unique_ptr<Node>> nodes_;
  Observer observer_;
  Tensor seed_;  // during backward()
};

Tape& tape();  // the tape of this thread

bool grad_enabled();

// Turns recording off for its scope (evaluation, statistics, parameter updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Adds b into a in place (same shape and device).
void add_inplace(Tensor& a, const Tensor& b);

}  // namespace elr::autograd
