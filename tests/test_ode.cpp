// `elrscope ode`: the scalar model against the closed forms of docs/science.md and against a
// brute-force simulation with explicit vectors, and the acceptance check against real runs: the
// one-step |W|^2 prediction of every scale-invariant layer within 1% (plain-20, lr 0.1 and 1.0).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <random>

#include "engine/error.h"
#include "experiments/run/train.h"
#include "experiments/studies/explode.h"
#include "experiments/studies/ode.h"
#include "test_util.h"

using namespace elr;

using elr::testing::temp_dir;

namespace {

using Vec = std::vector<double>;
double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
// a -= (a.b / b.b) b
void remove_component(Vec& a, const Vec& b) {
  const double bb = dot(b, b);
  if (bb <= 0) return;
  const double k = dot(a, b) / bb;
  for (size_t i = 0; i < a.size(); ++i) a[i] -= k * b[i];
}

// Heavy-ball SGD (PyTorch convention) on an explicit vector, with a gradient of norm c / |W|
// orthogonal to W; correlated = false: also orthogonal to the momentum buffer (a random
// direction otherwise), true: along the buffer's part orthogonal to W. Returns |W_t|^2, t = 0..steps.
Vec simulate(double w2_0, double c, double lr, double beta, double wd, bool correlated, int steps) {
  const size_t n = 4000;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  Vec w(n), v(n, 0.0);
  for (double& x : w) x = normal(rng);
  const double scale = std::sqrt(w2_0 / dot(w, w));
  for (double& x : w) x *= scale;
  Vec out;
  for (int t = 0; t <= steps; ++t) {
    out.push_back(dot(w, w));
    if (t == steps) break;
    Vec g(n);
    Vec vperp = v;
    remove_component(vperp, w);
    if (correlated && dot(vperp, vperp) > 0) {
      g = vperp;
    } else {
      for (double& x : g) x = normal(rng);
      remove_component(g, w);
      remove_component(g, vperp);
    }
    const double gnorm = c / std::sqrt(dot(w, w));
    const double k = gnorm / std::sqrt(dot(g, g));
    for (size_t i = 0; i < n; ++i) {
      const double d = g[i] * k + wd * w[i];
      v[i] = t == 0 ? d : beta * v[i] + d;
    }
    for (size_t i = 0; i < n; ++i) w[i] -= lr * v[i];
  }
  return out;
}

}  // namespace

TEST_CASE("ode: without momentum the model follows sigma'^2 = sigma^2 (1 + E^2) and E' = E / (1 + E^2)", "[ode]") {
  std::vector<OdeLayerStart> start = {{0, "a", 2.0, 3.0}, {1, "b", 16.0, 0.01}};
  OdeSettings s;
  s.lr = 1.0;
  s.steps = 6;
  const auto traj = predict_trajectory(start, s);
  REQUIRE(traj.size() == 7);
  for (size_t l = 0; l < start.size(); ++l) {
    double w2 = start[l].w2;
    double big_e = s.lr * start[l].e;  // E = lr c / sigma^2 = lr e
    for (int t = 0; t <= 6; ++t) {
      CHECK(traj[t][l].w2 == Approx(w2).epsilon(1e-12));
      CHECK(traj[t][l].elr == Approx(big_e).epsilon(1e-12));
      CHECK(traj[t][l].lr == 1.0);
      w2 *= 1 + big_e * big_e;
      big_e = big_e / (1 + big_e * big_e);
    }
  }
  // The overshoot of docs/science.md: E_0 = 3 multiplies |W|^2 by 10 and leaves ELR 0.3.
  CHECK(traj[1][0].w2 == Approx(20.0));
  CHECK(traj[1][0].elr == Approx(0.3));
}

TEST_CASE("ode: the momentum and weight-decay recursion matches an explicit vector simulation", "[ode]") {
  const double w2_0 = 5.0, e0 = 0.4, lr = 0.3, beta = 0.9, wd = 0.02;
  for (bool correlated : {false, true}) {
    const Vec sim = simulate(w2_0, e0 * w2_0, lr, beta, wd, correlated, 30);
    OdeSettings s;
    s.lr = lr;
    s.momentum = beta;
    s.weight_decay = wd;
    s.grad_corr = correlated ? 1.0 : 0.0;
    s.steps = 30;
    const auto traj = predict_trajectory({{0, "w", w2_0, e0}}, s);
    for (int t = 0; t <= 30; ++t) CHECK(traj[t][0].w2 == Approx(sim[t]).epsilon(1e-9));
    // Momentum makes the norm grow well beyond plain SGD's sigma^4 = sigma_0^4 + 2 c^2 lr^2 t.
    const double plain_w2 = std::sqrt(w2_0 * w2_0 + 2 * std::pow(e0 * w2_0 * lr, 2) * 30);
    CHECK(traj[30][0].w2 > plain_w2);
  }
}

TEST_CASE("ode: one-step |W|^2 prediction within 1% for plain-20 at lr 0.1 and 1.0 (momentum 0, no wd)", "[ode]") {
  for (double lr : {0.1, 1.0}) {
    TrainConfig c;
    c.model.name = "plain";
    c.model.depth = 20;
    c.model.width = 8;
    c.dataset = "synthetic";
    c.synthetic_size = 128;
    c.batch = 32;
    c.steps = 2;
    c.lr = lr;
    c.momentum = 0;
    c.weight_decay = 0;
    c.evaluate = false;
    c.progress = false;
    c.out = temp_dir("ode_accept_" + std::to_string(static_cast<int>(lr * 10)));
    const TrainResult tr = train(c);
    REQUIRE(!tr.diverged);

    OdeConfig oc;
    oc.run_dir = c.out;
    const OdeComparison r = run_ode(oc);
    CHECK(r.settings.lr == lr);
    CHECK(r.settings.momentum == 0);
    CHECK(r.settings.steps == 1);
    int checked = 0;
    for (const OdeRow& row : r.rows) {
      if (row.step != 1) continue;
      REQUIRE(row.measured);
      INFO("lr " << lr << " layer " << row.name << " predicted " << row.w2_pred << " measured " << row.w2_meas);
      CHECK(std::fabs(row.rel_err_w2()) < 0.01);
      ++checked;
    }
    CHECK(checked == 20);
    // Step 0 is the start itself.
    for (const OdeRow& row : r.rows)
      if (row.step == 0) CHECK(row.elr_pred == Approx(row.elr_meas).epsilon(1e-9));
    write_ode_csv(c.out + "/ode.csv", r);
    std::system(("rm -rf '" + c.out + "'").c_str());
  }
}

TEST_CASE("ode: critical-warmup decides the same step-0 learning rate as training", "[ode]") {
  TrainConfig c;
  c.model.name = "plain";
  c.model.depth = 8;
  c.model.width = 8;
  c.dataset = "synthetic";
  c.synthetic_size = 128;
  c.batch = 32;
  c.steps = 2;
  c.lr = 5.0;  // far above the critical LR, so the cap is active
  c.momentum = 0;
  c.lr_control = LrControlKind::CriticalWarmup;
  c.evaluate = false;
  c.progress = false;
  c.out = temp_dir("ode_critical");
  train(c);
  OdeConfig oc;
  oc.run_dir = c.out;
  const OdeComparison r = run_ode(oc);
  CHECK(r.settings.lr_control == LrControlKind::CriticalWarmup);
  for (const OdeRow& row : r.rows) {
    REQUIRE(row.measured);
    if (row.step == 0) CHECK(row.elr_pred == Approx(row.elr_meas).epsilon(1e-9));
    if (row.step == 1) CHECK(std::fabs(row.rel_err_w2()) < 0.01);
  }
  std::system(("rm -rf '" + c.out + "'").c_str());
}

TEST_CASE("ode: starts from an explode CSV and rejects bad input", "[ode]") {
  ExplodeConfig ec;
  ec.model = "plain";
  ec.depths = {4, 6};
  ec.width = 8;
  ec.dataset = "synthetic";
  ec.synthetic_size = 128;
  ec.batch = 32;
  ec.batches = 1;
  ec.seeds = {0};
  ec.progress = false;
  const std::string dir = temp_dir("ode_explode");
  write_explode_csv(dir, run_explode(ec));

  OdeConfig oc;
  oc.from_explode = dir + "/explode_layers.csv";
  CHECK_THROWS_AS(run_ode(oc), UserError);  // two depths: --depth is needed
  oc.depth = 6;
  oc.steps = 5;
  oc.lr = 0.5;
  const OdeComparison r = run_ode(oc);
  CHECK(r.rows.size() == 6 * 6);
  CHECK(r.settings.lr == 0.5);
  CHECK(r.out_path == dir + "/ode-depth6.csv");
  for (const OdeRow& row : r.rows) CHECK(!row.measured);

  OdeConfig both;
  both.run_dir = dir;
  both.from_explode = oc.from_explode;
  CHECK_THROWS_AS(run_ode(both), UserError);
  OdeConfig missing;
  missing.run_dir = dir + "/no-such-run";
  CHECK_THROWS_AS(run_ode(missing), UserError);
  std::system(("rm -rf '" + dir + "'").c_str());
}
