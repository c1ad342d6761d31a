// Every CPU kernel against the outputs and gradients PyTorch computed for the same inputs
// (tests/fixtures/ops.bin), plus the fixture reader and the comparison helper themselves.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"
#include "tests/fixture.h"
#include "kernels/optable/ops.h"

using namespace elr;
using namespace elr::testing;
using kernels::Closeness;
using kernels::evaluate_closeness;
using kernels::format_index;
using kernels::glob_match;

namespace {

const Fixture& ops_fixture() {
  static const Fixture f = Fixture::load(fixture_path("ops.bin"));
  return f;
}

// How many "<op>.case<i>.params" entries the fixture holds (cases are numbered from 0).
int count_cases(const Fixture& f, const std::string& op) {
  int n = 0;
  while (f.has(fmt::format("{}.case{}.params", op, n))) ++n;
  return n;
}

// An output buffer prefilled with a sentinel and followed by guard values: a kernel that writes
// past the end, or accumulates into its output instead of overwriting it, shows up.
template <class T>
class Guarded {
 public:
  static constexpr size_t kGuard = 16;
  explicit Guarded(size_t n) : n_(n), buf_(n + kGuard, static_cast<T>(-7777)) {}
  T* data() { return buf_.data(); }
  std::vector<T> values() const { return std::vector<T>(buf_.begin(), buf_.begin() + n_); }
  bool guard_intact() const {
    for (size_t i = n_; i < buf_.size(); ++i)
      if (buf_[i] != static_cast<T>(-7777)) return false;
    return true;
  }

 private:
  size_t n_;
  std::vector<T> buf_;
};

#define CHECK_GUARD(buffer)                                       \
  do {                                                            \
    INFO(#buffer " was written past its end");                    \
    CHECK((buffer).guard_intact());                               \
  } while (0)

void require_shape(const Fixture& f, const std::string& name, std::vector<int64_t> expected) {
  INFO(fmt::format("{}: shape in the fixture disagrees with its params", name));
  REQUIRE(f.shape(name) == expected);
}

std::string temp_file(const std::string& tag) {
  return (std::filesystem::temp_directory_path() / fmt::format("elr_fixture_{}_{}.bin", tag, ::getpid())).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A minimal writer for the reader's own tests, independent of the Python generator.
struct FixtureBytes {
  std::string bytes;
  uint32_t count = 0;
  template <class T>
  void pod(T v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  template <class T>
  void tensor(const std::string& name, uint32_t dtype, std::vector<int64_t> dims, const std::vector<T>& data) {
    pod<uint32_t>(static_cast<uint32_t>(name.size()));
    bytes += name;
    pod<uint32_t>(dtype);
    pod<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (int64_t d : dims) pod<int64_t>(d);
    for (T v : data) pod<T>(v);
    ++count;
  }
  std::string file(uint32_t version = 1) const {
    std::string out = "ELRFIX";
    out.append(reinterpret_cast<const char*>(&version), 4);
    out.append(reinterpret_cast<const char*>(&count), 4);
    return out + bytes;
  }
};

}  // namespace

// ---- ops -----------------------------------------------------------------------------------------

TEST_CASE("fixtures: conv2d forward and both backwards match PyTorch", "[fixtures][conv]") {
  const Fixture& f = ops_fixture();
  const int cases = count_cases(f, "conv2d");
  CHECK(cases == 4);
  struct Impl {
    const char* name;
    decltype(&kernels::conv2d_forward_cpu<float>) forward;
    decltype(&kernels::conv2d_backward_data_cpu<float>) backward_data;
    decltype(&kernels::conv2d_backward_weight_cpu<float>) backward_weight;
  };
  const Impl impls[] = {
      {"cpu", kernels::conv2d_forward_cpu<float>, kernels::conv2d_backward_data_cpu<float>,
       kernels::conv2d_backward_weight_cpu<float>},
      {"naive", kernels::conv2d_forward_naive<float>, kernels::conv2d_backward_data_naive<float>,
       kernels::conv2d_backward_weight_naive<float>},
  };
  for (int i = 0; i < cases; ++i) {
    const std::string p = fmt::format("conv2d.case{}.", i);
    const std::vector<int32_t> q = f.ints(p + "params");
    REQUIRE(q.size() == 9);
    kernels::Conv2dShape sh;
    sh.n = q[0], sh.c = q[1], sh.h = q[2], sh.w = q[3], sh.k = q[4], sh.r = q[5], sh.s = q[6];
    sh.stride = q[7], sh.pad = q[8];
    INFO(p << " " << kernels::Conv2dForward(sh).name());
    require_shape(f, p + "x", {sh.n, sh.c, sh.h, sh.w});
    require_shape(f, p + "w", {sh.k, sh.c, sh.r, sh.s});
    require_shape(f, p + "y", {sh.n, sh.k, sh.p(), sh.q()});
    const auto x = f.floats(p + "x"), w = f.floats(p + "w"), dy = f.floats(p + "dy");
    for (const Impl& impl : impls) {
      INFO("implementation: " << impl.name);
      Guarded<float> y(f.numel(p + "y")), dx(x.size()), dw(w.size());
      impl.forward(sh, x.data(), w.data(), y.data());
      impl.backward_data(sh, dy.data(), w.data(), dx.data());
      impl.backward_weight(sh, x.data(), dy.data(), dw.data());
      CHECK_GUARD(y);
      CHECK_GUARD(dx);
      CHECK_GUARD(dw);
      compare(f, p + "y", y.values(), sh.c * sh.r * sh.s);
      compare(f, p + "dx", dx.values(), sh.k * sh.r * sh.s);
      compare(f, p + "dw", dw.values(), int64_t(sh.n) * sh.p() * sh.q());
    }
  }
}

TEST_CASE("fixtures: batch norm training forward, running stats and backward match PyTorch",
          "[fixtures][batchnorm]") {
  const Fixture& f = ops_fixture();
  const int cases = count_cases(f, "batchnorm_train");
  CHECK(cases == 4);
  for (int i = 0; i < cases; ++i) {
    const std::string p = fmt::format("batchnorm_train.case{}.", i);
    const std::vector<int32_t> q = f.ints(p + "params");
    REQUIRE(q.size() == 5);
    const kernels::BatchNormShape sh{q[0], q[1], q[2] * q[3]};
    kernels::BatchNormParams bp;
    bp.momentum = 0.1f;
    bp.eps = 1e-5f;
    bp.relu = q[4] != 0;
    INFO(p << " " << kernels::BatchNormTrainForward(sh, bp.relu).name());
    require_shape(f, p + "x", {q[0], q[1], q[2], q[3]});
    const auto x = f.floats(p + "x"), gamma = f.floats(p + "gamma"), beta = f.floats(p + "beta");
    const auto dy = f.floats(p + "dy");
    const size_t c = static_cast<size_t>(sh.c);
    const int64_t per_channel = int64_t(sh.n) * sh.hw;

    Guarded<float> y(x.size()), mean(c), invstd(c);
    std::vector<float> running_mean(c, 0.0f), running_var(c, 1.0f);
    kernels::batchnorm_forward_train_cpu<float>(sh, bp, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                                invstd.data(), running_mean.data(), running_var.data());
    CHECK_GUARD(y);
    CHECK_GUARD(mean);
    CHECK_GUARD(invstd);
    compare(f, p + "y", y.values(), per_channel);
    compare(f, p + "save_mean", mean.values(), per_channel);
    compare(f, p + "save_invstd", invstd.values(), per_channel);
    compare(f, p + "running_mean", running_mean, per_channel);
    compare(f, p + "running_var", running_var, per_channel);

    // Without running statistics the output is the same.
    Guarded<float> y2(x.size()), mean2(c), invstd2(c);
    kernels::batchnorm_forward_train_cpu<float>(sh, bp, x.data(), gamma.data(), beta.data(), y2.data(),
                                                mean2.data(), invstd2.data(), nullptr, nullptr);
    CHECK(y2.values() == y.values());

    // The backward from PyTorch's own forward results, so a forward error cannot leak into it.
    const auto y_ref = f.floats(p + "y"), mean_ref = f.floats(p + "save_mean");
    const auto invstd_ref = f.floats(p + "save_invstd");
    Guarded<float> dx(x.size()), dgamma(c), dbeta(c);
    kernels::batchnorm_backward_cpu<float>(sh, bp, x.data(), y_ref.data(), dy.data(), gamma.data(), mean_ref.data(),
                                           invstd_ref.data(), dx.data(), dgamma.data(), dbeta.data());
    CHECK_GUARD(dx);
    CHECK_GUARD(dgamma);
    CHECK_GUARD(dbeta);
    compare(f, p + "dx", dx.values(), per_channel);
    compare(f, p + "dgamma", dgamma.values(), per_channel);
    compare(f, p + "dbeta", dbeta.values(), per_channel);
  }
}

TEST_CASE("fixtures: batch norm eval matches PyTorch", "[fixtures][batchnorm]") {
  const Fixture& f = ops_fixture();
  const int cases = count_cases(f, "batchnorm_eval");
  CHECK(cases == 2);
  for (int i = 0; i < cases; ++i) {
    const std::string p = fmt::format("batchnorm_eval.case{}.", i);
    const std::vector<int32_t> q = f.ints(p + "params");
    REQUIRE(q.size() == 5);
    const kernels::BatchNormShape sh{q[0], q[1], q[2] * q[3]};
    kernels::BatchNormParams bp;
    bp.relu = q[4] != 0;
    INFO(p << " " << kernels::BatchNormEvalForward(sh, bp.relu).name());
    require_shape(f, p + "x", {q[0], q[1], q[2], q[3]});
    const auto x = f.floats(p + "x");
    Guarded<float> y(x.size());
    kernels::batchnorm_forward_eval_cpu<float>(sh, bp, x.data(), f.floats(p + "gamma").data(),
                                               f.floats(p + "beta").data(), f.floats(p + "running_mean").data(),
                                               f.floats(p + "running_var").data(), y.data());
    CHECK_GUARD(y);
    compare(f, p + "y", y.values());
  }
}

TEST_CASE("fixtures: relu matches PyTorch, zero inputs included", "[fixtures][elementwise]") {
  const Fixture& f = ops_fixture();
  const int cases = count_cases(f, "relu");
  CHECK(cases == 2);
  for (int i = 0; i < cases; ++i) {
    const std::string p = fmt::format("relu.case{}.", i);
    INFO(p);
    const int64_t count = f.ints(p + "params").at(0);
    const auto x = f.floats(p + "x"), dy = f.floats(p + "dy");
    REQUIRE(int64_t(x.size()) == count);
    Guarded<float> y(count), dx(count);
    kernels::relu_forward_cpu<float>(count, x.data(), y.data());
    const auto y_ref = f.floats(p + "y");
    kernels::relu_backward_cpu<float>(count, y_ref.data(), dy.data(), dx.data());
    CHECK_GUARD(y);
    CHECK_GUARD(dx);
    compare(f, p + "y", y.values());
    compare(f, p + "dx", dx.values());
  }
}

TEST_CASE("fixtures: 2x2 max pool matches PyTorch, odd sizes and ties included", "[fixtures][pool]") {
  const Fixture& f = ops_fixture();
  const int cases = count_cases(f, "maxpool2d");
  CHECK(cases == 4);
  for (int i = 0; i < cases; ++i) {
    const std::string p = fmt::format("maxpool2d.case{}.", i);
    const std::vector<int32_t> q = f.ints(p + "params");
    REQUIRE(q.size() == 4);
    const kernels::PoolShape sh{q[0], q[1], q[2], q[3]};
    INFO(p << " " << kernels::MaxPoolForward(sh).name());
    const int64_t planes = int64_t(sh.n) * sh.c, out_plane = int64_t(sh.h / 2) * (sh.w / 2);
    require_shape(f, p + "y", {sh.n, sh.c, sh.h / 2, sh.w / 2});
    const auto x = f.floats(p + "x"), dy = f.floats(p + "dy");
    Guarded<float> y(planes * out_plane), dx(x.size());
    Guarded<int32_t> argmax(planes * out_plane);
    kernels::maxpool2x2_forward_cpu<float>(sh, x.data(), y.data(), argmax.data());
    kernels::maxpool2x2_backward_cpu<float>(sh, argmax.data(), dy.data(), dx.data());
    CHECK_GUARD(y);
    CHECK_GUARD(argmax);
    CHECK_GUARD(dx);
    compare(f, p + "y", y.values());
    compare(f, p + "dx", dx.values());
    // PyTorch's indices count inside each (n, c) plane; the kernel's count over the whole input.
    const std::vector<int32_t> indices = f.ints(p + "indices");
    const std::vector<int32_t> got = argmax.values();
    size_t mismatches = 0;
    for (size_t j = 0; j < indices.size(); ++j) {
      const int64_t expected = (int64_t(j) / out_plane) * sh.h * sh.w + indices[j];
      if (got[j] != expected && mismatches++ == 0)
        FAIL_CHECK(fmt::format("{}argmax[{}] = {}, PyTorch's first maximum is at {}", p, j, got[j], expected));
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("fixtures: global average pool matches PyTorch", "[fixtures][pool]") {
  const Fixture& f = ops_fixture();
  const int cases = count_cases(f, "global_avgpool");
  CHECK(cases == 3);
  for (int i = 0; i < cases; ++i) {
    const std::string p = fmt::format("global_avgpool.case{}.", i);
    const std::vector<int32_t> q = f.ints(p + "params");
    REQUIRE(q.size() == 4);
    const kernels::PoolShape sh{q[0], q[1], q[2], q[3]};
    INFO(p << " " << kernels::AvgPoolForward(sh).name());
    require_shape(f, p + "y", {sh.n, sh.c});
    const auto x = f.floats(p + "x"), dy = f.floats(p + "dy");
    Guarded<float> y(int64_t(sh.n) * sh.c), dx(x.size());
    kernels::global_avgpool_forward_cpu<float>(sh, x.data(), y.data());
    kernels::global_avgpool_backward_cpu<float>(sh, dy.data(), dx.data());
    CHECK_GUARD(y);
    CHECK_GUARD(dx);
    compare(f, p + "y", y.values(), int64_t(sh.h) * sh.w);
    compare(f, p + "dx", dx.values());
  }
}

TEST_CASE("fixtures: linear forward and backward match PyTorch", "[fixtures][linear]") {
  const Fixture& f = ops_fixture();
  const int cases = count_cases(f, "linear");
  CHECK(cases == 3);
  for (int i = 0; i < cases; ++i) {
    const std::string p = fmt::format("linear.case{}.", i);
    const std::vector<int32_t> q = f.ints(p + "params");
    REQUIRE(q.size() == 3);
    const kernels::LinearShape sh{q[0], q[1], q[2]};
    INFO(p << " " << kernels::LinearForward(sh).name());
    require_shape(f, p + "w", {sh.out, sh.in});
    const auto x = f.floats(p + "x"), w = f.floats(p + "w"), b = f.floats(p + "b"), dy = f.floats(p + "dy");
    Guarded<float> y(int64_t(sh.n) * sh.out), dx(x.size()), dw(w.size()), db(b.size());
    kernels::linear_forward_cpu<float>(sh, x.data(), w.data(), b.data(), y.data());
    kernels::linear_backward_cpu<float>(sh, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    CHECK_GUARD(y);
    CHECK_GUARD(dx);
    CHECK_GUARD(dw);
    CHECK_GUARD(db);
    compare(f, p + "y", y.values(), sh.in);
    compare(f, p + "dx", dx.values(), sh.out);
    compare(f, p + "dw", dw.values(), sh.n);
    compare(f, p + "db", db.values(), sh.n);
  }
}

TEST_CASE("fixtures: cross-entropy loss, probabilities, accuracy and gradient match PyTorch",
          "[fixtures][cross_entropy]") {
  const Fixture& f = ops_fixture();
  const int cases = count_cases(f, "cross_entropy");
  CHECK(cases == 3);
  for (int i = 0; i < cases; ++i) {
    const std::string p = fmt::format("cross_entropy.case{}.", i);
    const std::vector<int32_t> q = f.ints(p + "params");
    REQUIRE(q.size() == 2);
    const kernels::CrossEntropyShape sh{q[0], q[1]};
    INFO(p << " " << kernels::CrossEntropyForward(sh).name());
    require_shape(f, p + "logits", {sh.n, sh.classes});
    const auto logits = f.floats(p + "logits");
    const std::vector<int32_t> labels = f.ints(p + "labels");
    float loss = -1;
    int64_t correct = -1;
    Guarded<float> probs(logits.size()), dlogits(logits.size());
    kernels::cross_entropy_forward_cpu<float>(sh, logits.data(), labels.data(), &loss, probs.data(), &correct);
    CHECK_GUARD(probs);
    compare(f, p + "loss", std::vector<float>{loss}, sh.classes);
    compare(f, p + "probs", probs.values(), sh.classes);
    compare_exact(f, p + "correct", std::vector<int64_t>{correct});

    const auto probs_ref = f.floats(p + "probs");
    const float dloss = f.floats(p + "dloss").at(0);
    kernels::cross_entropy_backward_cpu<float>(sh, probs_ref.data(), labels.data(), dloss, dlogits.data());
    CHECK_GUARD(dlogits);
    compare(f, p + "dlogits", dlogits.values());
  }
}

TEST_CASE("fixtures: three SGD steps match torch.optim.SGD (heavy ball, Nesterov, no momentum)",
          "[fixtures][sgd]") {
  const Fixture& f = ops_fixture();
  const int cases = count_cases(f, "sgd");
  CHECK(cases == 3);
  for (int i = 0; i < cases; ++i) {
    const std::string p = fmt::format("sgd.case{}.", i);
    const std::vector<int32_t> q = f.ints(p + "params");
    REQUIRE(q.size() == 3);
    const std::vector<float> h = f.floats(p + "hparams");
    REQUIRE(h.size() == 3);
    const int64_t count = q[0];
    kernels::SgdParams sp;
    sp.lr = h[0];
    sp.momentum = h[1];
    sp.weight_decay = h[2];
    sp.nesterov = q[1] != 0;
    INFO(fmt::format("{} lr={} momentum={} weight_decay={} nesterov={}", p, sp.lr, sp.momentum, sp.weight_decay,
                     sp.nesterov));
    std::vector<float> w = f.floats(p + "w0");
    REQUIRE(int64_t(w.size()) == count);
    std::vector<float> v(count, -7777.0f);  // the first step must overwrite it
    for (int t = 0; t < q[2]; ++t) {
      INFO("step " << t);
      sp.first_step = t == 0;
      const std::vector<float> g = f.floats(fmt::format("{}g{}", p, t));
      const double update2 = kernels::sgd_update_cpu(count, sp, w.data(), g.data(), sp.momentum ? v.data() : nullptr);
      compare(f, fmt::format("{}w{}", p, t + 1), w);
      if (sp.momentum) compare(f, fmt::format("{}v{}", p, t + 1), v);
      compare(f, fmt::format("{}update2_{}", p, t + 1), std::vector<double>{update2});
    }
  }
}

TEST_CASE("fixtures: per-tensor sums in double match", "[fixtures][sgd]") {
  const Fixture& f = ops_fixture();
  const std::string p = "tensor_stats.case0.";
  const int64_t count = f.ints(p + "params").at(0);
  const auto w = f.floats(p + "w"), g = f.floats(p + "g"), v = f.floats(p + "v");
  const kernels::TensorStats s = kernels::tensor_stats_cpu(count, w.data(), g.data(), v.data());
  compare(f, p + "sums", std::vector<double>{s.w2, s.g2, s.gw, s.v2});
  const kernels::TensorStats no_v = kernels::tensor_stats_cpu(count, w.data(), g.data(), nullptr);
  CHECK(no_v.v2 == 0.0);
  CHECK(no_v.w2 == s.w2);
}

// ---- the fixture files themselves ----------------------------------------------------------------

TEST_CASE("fixtures: train_tiny.bin holds exactly the documented tensors", "[fixtures]") {
  const Fixture f = Fixture::load(fixture_path("train_tiny.bin"));
  const std::vector<std::string> state = {"conv1.weight",      "bn1.weight", "bn1.bias", "bn1.running_mean",
                                          "bn1.running_var",   "fc.weight",  "fc.bias"};
  const std::vector<std::string> params = {"conv1.weight", "bn1.weight", "bn1.bias", "fc.weight", "fc.bias"};
  std::vector<std::string> expected;
  for (const auto& s : state) expected.push_back("init." + s);
  for (int t = 0; t < 5; ++t) {
    for (const char* what : {"x", "labels", "loss"}) expected.push_back(fmt::format("step{}.{}", t, what));
    if (t == 0)
      for (const auto& s : params) expected.push_back("step0.grad." + s);
  }
  for (const auto& s : state) expected.push_back("final." + s);
  CHECK(f.names() == expected);
  CHECK(f.shape("step0.x") == std::vector<int64_t>{4, 3, 8, 8});
  CHECK(f.shape("init.fc.weight") == std::vector<int64_t>{5, 96});
  CHECK(f.dtype("step3.labels") == FixtureDtype::i32);
  // Training moved every parameter and buffer: the initial values were saved before training.
  for (const auto& s : state) {
    INFO(s);
    CHECK(f.floats("init." + s) != f.floats("final." + s));
  }
}

TEST_CASE("fixtures: train_plain6.bin holds per-step layer statistics for all 6 layers", "[fixtures]") {
  const Fixture f = Fixture::load(fixture_path("train_plain6.bin"));
  // 32 init + 20 steps x (3 + 6 layers x 3 stats) + 32 final.
  CHECK(f.names().size() == 32 + 20 * 21 + 32);
  for (int i = 0; i < 6; ++i) {
    const int64_t cin = i == 0 ? 1 : 8;
    CHECK(f.shape(fmt::format("init.layers.{}.conv.weight", i)) == std::vector<int64_t>{8, cin, 3, 3});
    for (const char* s : {"init", "final"})
      for (const char* t : {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"})
        CHECK(f.has(fmt::format("{}.layers.{}.{}", s, i, t)));
  }
  for (int t = 0; t < 20; ++t) {
    CHECK(f.shape(fmt::format("step{}.x", t)) == std::vector<int64_t>{8, 1, 16, 16});
    for (int i = 0; i < 6; ++i) {
      const std::string p = fmt::format("step{}.layers.{}.", t, i);
      REQUIRE(f.dtype(p + "elr") == FixtureDtype::f64);
      // elr = lr |g| / |W| with lr = 0.1, from the same fixture's |W|^2 and |g|^2.
      const double elr = 0.1 * std::sqrt(f.scalar(p + "g2")) / std::sqrt(f.scalar(p + "w2"));
      CHECK(f.scalar(p + "elr") == Approx(elr).epsilon(1e-12));
    }
  }
}

TEST_CASE("fixtures: every stored tensor is finite and outputs are not all zero", "[fixtures]") {
  for (const char* file : {"ops.bin", "train_tiny.bin", "train_plain6.bin"}) {
    const Fixture f = Fixture::load(fixture_path(file));
    CHECK(f.names().size() > 10);
    for (const std::string& name : f.names()) {
      if (f.dtype(name) == FixtureDtype::i32) continue;
      INFO(file << ": " << name);
      bool finite = true, all_zero = true;
      for (double v : f.doubles(name)) finite = finite && std::isfinite(v), all_zero = all_zero && v == 0;
      CHECK(finite);
      if (!tolerance_rule_for(name).tol.allow_all_zero) CHECK_FALSE(all_zero);
    }
  }
}

// ---- reader and comparison ---------------------------------------------------------------------

TEST_CASE("fixture reader: round trip of every dtype", "[fixtures]") {
  FixtureBytes b;
  b.tensor<float>("a.f32", 0, {2, 3}, {1, 2, 3, 4, 5, 6.5f});
  b.tensor<int32_t>("b.i32", 1, {3}, {-1, 0, 7});
  b.tensor<double>("c.f64", 2, {1}, {0.125});
  b.tensor<float>("d.empty", 0, {0, 4}, {});
  const Fixture f = Fixture::parse(b.file(), "memory");
  CHECK(f.names() == std::vector<std::string>{"a.f32", "b.i32", "c.f64", "d.empty"});
  CHECK(f.shape("a.f32") == std::vector<int64_t>{2, 3});
  CHECK(f.floats("a.f32") == std::vector<float>{1, 2, 3, 4, 5, 6.5f});
  CHECK(f.ints("b.i32") == std::vector<int32_t>{-1, 0, 7});
  CHECK(f.doubles("c.f64") == std::vector<double>{0.125});
  CHECK(f.floats("c.f64") == std::vector<float>{0.125f});
  CHECK(f.scalar("c.f64") == 0.125);
  CHECK(f.numel("d.empty") == 0);
  CHECK_FALSE(f.has("e"));
  CHECK_THROWS_WITH(f.floats("e"), Catch::Contains("fixture 'memory': no tensor named 'e'"));
  CHECK_THROWS_WITH(f.ints("a.f32"), Catch::Contains("'a.f32' is f32, not i32"));
  CHECK_THROWS_WITH(f.floats("b.i32"), Catch::Contains("'b.i32' is i32, not a float tensor"));
  CHECK_THROWS_WITH(f.scalar("a.f32"), Catch::Contains("'a.f32' has 6 elements"));
}

TEST_CASE("fixture reader: bad magic, version, truncation and trailing bytes are clear errors", "[fixtures]") {
  const std::string good = read_bytes(fixture_path("ops.bin"));
  REQUIRE(good.size() > 1000);
  const std::string path = temp_file("broken");

  std::string wrong_magic = good;
  wrong_magic[3] = 'X';
  write_bytes(path, wrong_magic);
  CHECK_THROWS_WITH(Fixture::load(path), Catch::Contains("fixture '" + path + "': bad magic"));

  std::string wrong_version = good;
  wrong_version[6] = 2;
  write_bytes(path, wrong_version);
  CHECK_THROWS_WITH(Fixture::load(path), Catch::Contains("fixture '" + path + "': format version 2") &&
                                             Catch::Contains("understands version 1"));

  for (size_t keep : {size_t(3), size_t(8), size_t(13), good.size() / 2, good.size() - 1}) {
    INFO("kept " << keep << " of " << good.size() << " bytes");
    write_bytes(path, good.substr(0, keep));
    CHECK_THROWS_WITH(Fixture::load(path), Catch::Contains("fixture '" + path + "'") &&
                                               (Catch::Contains("truncated") || Catch::Contains("bad magic")));
  }
  write_bytes(path, good.substr(0, good.size() / 2));
  CHECK_THROWS_WITH(Fixture::load(path), Catch::Contains("truncated"));

  write_bytes(path, good + "x");
  CHECK_THROWS_WITH(Fixture::load(path), Catch::Contains("1 unexpected bytes after the last of"));

  std::remove(path.c_str());
  CHECK_THROWS_WITH(Fixture::load(path), Catch::Contains("cannot open") && Catch::Contains(path));
}

TEST_CASE("tolerances: lookup by name picks the first matching rule", "[fixtures]") {
  CHECK(glob_match("conv2d.*", "conv2d.case0.dx"));
  CHECK(glob_match("step*.layers.*.g2", "step12.layers.3.g2"));
  CHECK_FALSE(glob_match("step*.layers.*.g2", "step12.layers.3.w2"));
  CHECK_FALSE(glob_match("conv2d.*", "conv2d"));
  CHECK(glob_match("*", ""));
  CHECK(std::string(tolerance_rule_for("batchnorm_train.case1.dx").pattern) == "batchnorm_train.*.dx");
  CHECK(std::string(tolerance_rule_for("batchnorm_train.case1.dgamma").pattern) == "batchnorm_*");
  CHECK(std::string(tolerance_rule_for("sgd.case0.update2_1").pattern) == "sgd.*.update2_*");
  CHECK(tolerance_rule_for("init.bn1.bias").tol.allow_all_zero);
  CHECK(std::string(tolerance_rule_for("no.such.op").pattern) == "*");
}

TEST_CASE("comparison: thresholds, NaN, all-zero references and size mismatches", "[fixtures]") {
  const Tolerance tol{1e-3, 1e-2, 1e-3};
  const std::vector<double> ref = {1.0, -2.0, 0.5};
  // Threshold of element 1: 1e-3 + 1e-2 * 2 = 0.021.
  Closeness inside = evaluate_closeness(std::vector<double>{1.0, -2.02, 0.5}, ref, tol);
  CHECK(inside.ok);
  CHECK(inside.worst_index == 1);
  CHECK(inside.worst_fraction == Approx(0.02 / 0.021));
  Closeness outside = evaluate_closeness(std::vector<double>{1.0, -2.03, 0.5}, ref, tol);
  CHECK_FALSE(outside.ok);
  CHECK(outside.problem.find("value [1]") != std::string::npos);
  // A longer reduction widens atol by its square root.
  const Tolerance abs_only{1e-3, 0.0, 1.0};
  CHECK_FALSE(evaluate_closeness(std::vector<double>{1.003}, std::vector<double>{1.0}, abs_only).ok);
  CHECK(evaluate_closeness(std::vector<double>{1.003}, std::vector<double>{1.0}, abs_only, 16).ok);
  // NaN never passes.
  CHECK_FALSE(evaluate_closeness(std::vector<double>{1.0, std::nan(""), 0.5}, ref, tol).ok);
  // Small elementwise errors everywhere can still break the NMSE bound.
  const Tolerance tight_nmse{1e-3, 1e-2, 1e-6};
  CHECK_FALSE(evaluate_closeness(std::vector<double>{1.005, -2.01, 0.503}, ref, tight_nmse).ok);
  // An all-zero reference is a fixture bug, unless the rule says zeros are expected.
  Closeness zeros = evaluate_closeness(std::vector<float>{0, 0}, std::vector<float>{0, 0}, tol);
  CHECK_FALSE(zeros.ok);
  CHECK(zeros.problem.find("all zeros") != std::string::npos);
  Tolerance zeros_ok = tol;
  zeros_ok.allow_all_zero = true;
  CHECK(evaluate_closeness(std::vector<float>{0, 0}, std::vector<float>{0, 0}, zeros_ok).ok);
  Closeness sizes = evaluate_closeness(std::vector<float>{1, 2}, std::vector<float>{1, 2, 3}, tol);
  CHECK_FALSE(sizes.ok);
  CHECK(sizes.problem.find("size mismatch") != std::string::npos);
  CHECK(format_index(7, {2, 2, 3}) == "[1, 0, 1]");
}
