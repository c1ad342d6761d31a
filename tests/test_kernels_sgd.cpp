// SGD update and per-tensor statistics on the CPU beyond the op-case table (tests/test_op_table.cpp
// checks one step of each against the double references): PyTorch's update rule over several steps
// with the momentum buffer carried along, the returned |dW|^2, bad settings, and thread-count
// independence.
#include <omp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"
#include "kernels/optable/check.h"
#include "tests/gradcheck.h"

using namespace elr;
using namespace elr::kernels;
using elr::testing::random_vector;

namespace {

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

struct ThreadCount {
  int saved = omp_get_max_threads();
  explicit ThreadCount(int n) { omp_set_num_threads(n); }
  ~ThreadCount() { omp_set_num_threads(saved); }
};

// torch.optim.SGD (dampening 0), written out in double, one parameter tensor.
struct ReferenceSgd {
  double lr, momentum, weight_decay;
  bool nesterov;
  std::vector<double> buf;  // empty until the first step
  void step(std::vector<double>& w, const std::vector<double>& g) {
    const bool first = buf.empty();
    if (first) buf.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      double d = g[i];
      if (weight_decay != 0) d += weight_decay * w[i];
      if (momentum != 0) {
        buf[i] = first ? d : momentum * buf[i] + d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      w[i] -= lr * d;
    }
  }
};

}  // namespace

TEST_CASE("sgd: three steps match PyTorch's rule (momentum, nesterov, weight decay)", "[sgd]") {
  const int64_t count = 1003;
  struct Config {
    float momentum;
    bool nesterov;
    float weight_decay;
  };
  const Config configs[] = {{0.0f, false, 0.0f}, {0.0f, false, 0.01f}, {0.9f, false, 0.0f},
                            {0.9f, false, 0.01f}, {0.9f, true, 0.0f},  {0.9f, true, 0.01f}};
  for (const Config& c : configs) {
    INFO("momentum " << c.momentum << " nesterov " << c.nesterov << " weight_decay " << c.weight_decay);
    const std::vector<double> w0 = random_vector(count, 201, -2.0, 2.0);
    std::vector<float> w = to_float(w0), v(count, 12345.0f);  // stale buffer content must be ignored
    std::vector<double> w_ref(w.begin(), w.end());
    ReferenceSgd ref{0.1, c.momentum, c.weight_decay, c.nesterov, {}};
    for (int step = 0; step < 3; ++step) {
      const std::vector<float> g = to_float(random_vector(count, 210 + step));
      const std::vector<float> w_before = w;
      SgdParams p;
      p.lr = 0.1f;
      p.momentum = c.momentum;
      p.weight_decay = c.weight_decay;
      p.nesterov = c.nesterov;
      p.first_step = step == 0;
      const double dw2 = sgd_update_cpu(count, p, w.data(), g.data(), c.momentum != 0 ? v.data() : nullptr);
      ref.step(w_ref, std::vector<double>(g.begin(), g.end()));
      double moved2 = 0;
      for (int64_t i = 0; i < count; ++i) {
        const double d = double(w[i]) - double(w_before[i]);
        moved2 += d * d;
      }
      INFO("step " << step);
      CHECK(dw2 == Approx(moved2).epsilon(1e-5));
      CHECK(dw2 > 0);
      const Tolerance tol{1e-5, 1e-5, std::numeric_limits<double>::infinity()};
      const Closeness w_close = evaluate_closeness(w, w_ref, tol);
      INFO("w: " << describe_closeness(w_close, "sgd steps", tol, 1));
      CHECK(w_close.ok);
      if (c.momentum != 0) {
        const Closeness v_close = evaluate_closeness(v, ref.buf, tol);
        INFO("v: " << describe_closeness(v_close, "sgd steps", tol, 1));
        CHECK(v_close.ok);
      }
    }
  }
}

TEST_CASE("sgd: bad momentum settings are errors", "[sgd]") {
  std::vector<float> w(4, 1.0f), g(4, 1.0f);
  SgdParams p;
  p.momentum = 0.9f;
  CHECK_THROWS_WITH(sgd_update_cpu(4, p, w.data(), g.data(), nullptr), Catch::Contains("momentum buffer"));
  p.momentum = 0.0f;
  p.nesterov = true;
  CHECK_THROWS_WITH(sgd_update_cpu(4, p, w.data(), g.data(), nullptr), Catch::Contains("nesterov"));
}

TEST_CASE("sgd and tensor_stats: results are bitwise independent of the thread count", "[sgd]") {
  const int64_t count = 100003;
  const std::vector<float> w0 = to_float(random_vector(count, 401, -1.0, 1.0));
  const std::vector<float> g = to_float(random_vector(count, 402));
  const std::vector<float> v0 = to_float(random_vector(count, 403));
  struct Result {
    TensorStats stats;
    double dw2;
    std::vector<float> w, v;
  };
  auto run = [&](int threads) {
    ThreadCount t(threads);
    Result r;
    r.stats = tensor_stats_cpu(count, w0.data(), g.data(), v0.data());
    r.w = w0;
    r.v = v0;
    SgdParams p;
    p.lr = 0.05f;
    p.momentum = 0.9f;
    p.weight_decay = 5e-4f;
    p.nesterov = true;
    p.first_step = false;
    r.dw2 = sgd_update_cpu(count, p, r.w.data(), g.data(), r.v.data());
    return r;
  };
  const Result one = run(1);
  for (int threads : {2, 3}) {
    INFO(threads << " threads");
    const Result other = run(threads);
    CHECK(std::memcmp(&one.stats, &other.stats, sizeof(TensorStats)) == 0);
    CHECK(std::memcmp(&one.dw2, &other.dw2, sizeof(double)) == 0);
    CHECK(std::memcmp(one.w.data(), other.w.data(), count * sizeof(float)) == 0);
    CHECK(std::memcmp(one.v.data(), other.v.data(), count * sizeof(float)) == 0);
  }
}
