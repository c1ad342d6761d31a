#include "engine/autograd.h"

#include "engine/device_ops.h"
#include "engine/error.h"

namespace elr::autograd {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

Tape& tape() {
  thread_local Tape t;
  return t;
}

void add_inplace(Tensor& a, const Tensor& b) {
  ELR_CHECK(a.shape() == b.shape() && a.device() == b.device(), "gradient accumulation: {} += {}", a.str(),
            b.str());
  if (a.device().is_cuda()) {
    cuda_ops().add_forward(a.numel(), false, a.data(), b.data(), a.data(), cuda_ops().stream());
    return;
  }
  float* pa = a.data();
  const float* pb = b.data();
  const int64_t n = a.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) pa[i] += pb[i];
}

Tensor Node::output_grad(size_t i) const {
  return outputs[i].has_grad() ? outputs[i].grad() : Tensor();
}

void Node::accumulate(size_t i, const Tensor& g) {
  Tensor& in = inputs[i];
  if (!in.requires_grad()) return;
  ELR_CHECK(g.shape() == in.shape(), "{} backward: gradient {} for input {} of shape {}", op, g.str(), i,
            shape_str(in.shape()));
  if (!in.has_grad()) {
    in.set_grad(g);
  } else if (in.grad_stale()) {  // a kept gradient buffer: overwrite last step's values
    Tensor existing = in.grad();
    existing.copy_from(g);
    in.clear_grad_stale();
  } else {
    Tensor existing = in.grad();
    add_inplace(existing, g);
  }
}

Node* Tape::record(std::string op, std::vector<Tensor> inputs, std::vector<Tensor> outputs,
                   std::function<void(Node&)> backward) {
  if (!g_grad_enabled) return nullptr;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return nullptr;
  for (Tensor& t : outputs) t.set_requires_grad(true);
  auto node = std::make_unique<Node>();
  node->op = std::move(op);
  node->inputs = std::move(inputs);
  node->outputs = std::move(outputs);
  node->backward = std::move(backward);
  nodes_.push_back(std::move(node));
  return nodes_.back().get();
}

void Tape::backward(const Tensor& loss) {
  ELR_CHECK(loss.numel() == 1, "backward: the loss must be a scalar, got {}", loss.str());
  ELR_CHECK(loss.requires_grad(), "backward: the loss does not depend on anything that requires grad");
  Tensor seed = Tensor::full(loss.shape(), 1.0f, loss.device());
  Tensor l = loss;
  l.set_grad(seed);
  seed_ = seed;
  NoGradGuard no_grad;  // backward functions never record
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    Node& node = **it;
    bool has_any = false;
    for (const Tensor& o : node.outputs) has_any = has_any || o.has_grad();
    if (!has_any) continue;
    if (!node.backward) {
      const std::string message = fmt::format("autograd: op '{}' has no backward, but a gradient reached it", node.op);
      nodes_.clear();
      throw Error(message);
    }
    node.backward(node);
    if (observer_) observer_(node);
    for (Tensor& o : node.outputs) o.reset_grad();  // intermediates: free as soon as used
  }
  nodes_.clear();
  seed_ = Tensor();
}

bool Tape::is_seed(const Tensor& g) const { return seed_.defined() && g.defined() && g.same(seed_); }

}  // namespace elr::autograd
