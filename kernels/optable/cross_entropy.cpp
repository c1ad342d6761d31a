// Softmax cross-entropy cases: mean loss over the batch, softmax probabilities, the count of rows
// whose first arg-max is the label, and dlogits = dloss * (probs - onehot) / n.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "kernels/optable/ops.h"
#include "kernels/optable/random.h"

namespace elr::kernels {

namespace {

Values labels_of(const CrossEntropyShape& s) {
  const std::vector<int32_t> l = random_labels(s.n, s.classes, 15);
  return Values(l.begin(), l.end());
}

// Logits on a grid of 1/2 in [-3, 3] (ties between classes: the first maximum counts), every third
// row with its label's logit above the rest, so the count of correct rows is not trivially zero.
Values logits_of(const CrossEntropyShape& s, const Values& labels) {
  Values z = random_values(int64_t(s.n) * s.classes, 14, -3.0f, 3.0f);
  for (double& v : z) v = std::round(v * 2) / 2;
  for (int i = 0; i < s.n; i += 3) z[int64_t(i) * s.classes + int64_t(labels[i])] = 3.5;
  return z;
}

struct ForwardReference {
  double loss = 0;
  Values probs;
  int64_t correct = 0;
};
ForwardReference forward_reference(const CrossEntropyShape& s, const Values& logits, const Values& labels) {
  ForwardReference r;
  r.probs.resize(logits.size());
  for (int i = 0; i < s.n; ++i) {
    const double* row = logits.data() + int64_t(i) * s.classes;
    const int best = static_cast<int>(std::max_element(row, row + s.classes) - row);
    const double top = row[best];
    double z = 0;
    for (int j = 0; j < s.classes; ++j) z += std::exp(row[j] - top);
    for (int j = 0; j < s.classes; ++j) r.probs[int64_t(i) * s.classes + j] = std::exp(row[j] - top) / z;
    const int label = static_cast<int>(labels[i]);
    r.loss += std::log(z) - (row[label] - top);
    r.correct += best == label;
  }
  r.loss /= s.n;
  return r;
}

// With one class the loss and its gradient are exactly zero.
TensorSpec loss_output(const char* name, std::vector<int64_t> dims, int64_t reduction, int classes) {
  TensorSpec s = out_tensor(name, std::move(dims), reduction);
  s.may_be_zero = classes == 1;
  return s;
}

}  // namespace

std::string CrossEntropyCase::name() const {
  return fmt::format("cross_entropy(n={},classes={})", shape.n, shape.classes);
}

// ---- forward ---------------------------------------------------------------------------------------
Op CrossEntropyForward::op() const { return Op::CrossEntropyForward; }
std::string CrossEntropyForward::kernel() const { return "softmax cross-entropy forward"; }
double CrossEntropyForward::bytes() const { return 8.0 * count() + 4.0 * shape.n; }

std::vector<TensorSpec> CrossEntropyForward::tensors() const {
  const CrossEntropyShape& s = shape;
  return {in_tensor("logits", {s.n, s.classes}), in_tensor("labels", {s.n}, DType::I32),
          loss_output("loss", {1}, count(), s.classes), out_tensor("probs", {s.n, s.classes}, s.classes),
          out_tensor("correct", {1}, 1, DType::I64)};
}

std::vector<Values> CrossEntropyForward::make_inputs() const {
  const Values labels = labels_of(shape);
  return {logits_of(shape, labels), labels, {}, {}, {}};
}

std::vector<Expected> CrossEntropyForward::reference(const std::vector<Values>& in) const {
  const ForwardReference r = forward_reference(shape, in[0], in[1]);
  return {{}, {}, {{r.loss}, {}}, {r.probs, {}}, {{double(r.correct)}, {}}};
}

void CrossEntropyForward::cpu(const OpArgs& a) const {
  cross_entropy_forward_cpu<float>(shape, a.at<float>(0), a.at<int32_t>(1), a.at<float>(2), a.at<float>(3),
                                   a.at<int64_t>(4));
}
void CrossEntropyForward::cpu_double(const OpArgs& a) const {
  cross_entropy_forward_cpu<double>(shape, a.at<double>(0), a.at<int32_t>(1), a.at<double>(2), a.at<double>(3),
                                    a.at<int64_t>(4));
}

// ---- backward --------------------------------------------------------------------------------------
Op CrossEntropyBackward::op() const { return Op::CrossEntropyBackward; }
std::string CrossEntropyBackward::kernel() const { return "softmax cross-entropy backward"; }
double CrossEntropyBackward::bytes() const { return 8.0 * count() + 4.0 * shape.n; }
std::unique_ptr<OpCase> CrossEntropyBackward::forward() const { return std::make_unique<CrossEntropyForward>(shape); }

std::vector<TensorSpec> CrossEntropyBackward::tensors() const {
  const CrossEntropyShape& s = shape;
  TensorSpec dloss = in_tensor("dloss", {1});
  dloss.on_host = true;
  return {in_tensor("probs", {s.n, s.classes}), in_tensor("labels", {s.n}, DType::I32), dloss,
          loss_output("dlogits", {s.n, s.classes}, 1, s.classes)};
}

// The probabilities of the reference forward (in float), so this case does not depend on the
// forward kernel.
std::vector<Values> CrossEntropyBackward::make_inputs() const {
  const Values labels = labels_of(shape);
  Values probs = forward_reference(shape, logits_of(shape, labels), labels).probs;
  for (double& p : probs) p = double(float(p));
  return {probs, labels, {0.75}, {}};
}

std::vector<Expected> CrossEntropyBackward::reference(const std::vector<Values>& in) const {
  const Values &probs = in[0], &labels = in[1];
  const double dloss = in[2][0];
  Values dlogits(count());
  for (int i = 0; i < shape.n; ++i)
    for (int j = 0; j < shape.classes; ++j) {
      const int64_t k = int64_t(i) * shape.classes + j;
      dlogits[k] = dloss * (probs[k] - (j == int(labels[i]) ? 1.0 : 0.0)) / shape.n;
    }
  return {{}, {}, {}, {dlogits, {}}};
}

void CrossEntropyBackward::cpu(const OpArgs& a) const {
  cross_entropy_backward_cpu<float>(shape, a.at<float>(0), a.at<int32_t>(1), *a.at<float>(2), a.at<float>(3));
}
void CrossEntropyBackward::cpu_double(const OpArgs& a) const {
  cross_entropy_backward_cpu<double>(shape, a.at<double>(0), a.at<int32_t>(1), *a.at<double>(2), a.at<double>(3));
}

std::vector<OpCasePtr> cross_entropy_cases(const CrossEntropyShape& s) {
  return {std::make_shared<CrossEntropyForward>(s), std::make_shared<CrossEntropyBackward>(s)};
}

}  // namespace elr::kernels
