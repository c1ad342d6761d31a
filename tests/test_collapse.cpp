// The collapse of the base gradient (experiments/studies/collapse.h) and the kappa-extended
// `elrscope ode` model against their closed forms.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/error.h"
#include "experiments/studies/collapse.h"
#include "experiments/studies/ode.h"

using namespace elr;

TEST_CASE("collapse: kappa(E) = (1 + (E/scale)^2)^(-power/2) and the one-step ELR", "[collapse]") {
  const CollapseLaw none;
  CHECK(!none.active());
  CHECK(none.kappa(100.0) == 1.0);
  const CollapseLaw law{2.0, 1.5};
  CHECK(law.active());
  CHECK(law.kappa(0.0) == 1.0);
  CHECK(law.kappa(2.0) == Approx(std::pow(2.0, -0.75)).epsilon(1e-14));
  CHECK(law.kappa(2000.0) == Approx(std::pow(1000.0, -1.5)).epsilon(1e-5));  // (scale / E)^power far out
  // ELR' = kappa(u) u / (1 + u^2): 3 / 10 without the collapse, times kappa(3) with it.
  CHECK(one_step_elr(3.0, none) == Approx(0.3).epsilon(1e-14));
  CHECK(one_step_elr(3.0, law) == Approx(0.3 * std::pow(1 + 2.25, -0.75)).epsilon(1e-14));
}

TEST_CASE("collapse: without it the post-step spread is smallest at 1/sqrt(e_max e_min)", "[collapse]") {
  // u / (1 + u^2) is symmetric in log u around u = 1: the extreme layers meet at lr e_max lr e_min = 1.
  const std::vector<double> e = {0.5, 3.0, 40.0, 7.0};
  const double lr = one_step_spread_minimum(e, CollapseLaw{}, 1e-4, 1e3);
  CHECK(lr == Approx(1 / std::sqrt(0.5 * 40.0)).epsilon(1e-6));
  CHECK(one_step_spread(e, lr, CollapseLaw{}) < one_step_spread(e, lr * 1.2, CollapseLaw{}));
  CHECK(one_step_spread(e, lr, CollapseLaw{}) < one_step_spread(e, lr / 1.2, CollapseLaw{}));
  // The collapse pulls the fast layer's ELR' down further: the minimum moves to a lower lr.
  const CollapseLaw law{0.5, 1.0};
  const double lr_k = one_step_spread_minimum(e, law, 1e-4, 1e3);
  CHECK(lr_k < lr);
  CHECK(one_step_spread(e, lr_k, law) <= one_step_spread(e, lr, law));
  // Two layers: ELR'(lr e_1) = ELR'(lr e_2) at the minimum (the spread there is 1).
  const std::vector<double> two = {0.2, 9.0};
  const double lr2 = one_step_spread_minimum(two, law, 1e-4, 1e3);
  CHECK(one_step_elr(lr2 * 0.2, law) == Approx(one_step_elr(lr2 * 9.0, law)).epsilon(1e-6));
}

TEST_CASE("collapse: the fit recovers the law from exact points and rejects too few", "[collapse]") {
  const CollapseLaw truth{1.7, 0.8};
  std::vector<double> elr, kappa;
  for (double e = 0.05; e < 200; e *= 1.5) {
    elr.push_back(e);
    kappa.push_back(truth.kappa(e));
  }
  elr.push_back(-1);  // left out: E <= 0, kappa <= 0
  kappa.push_back(0.5);
  elr.push_back(3);
  kappa.push_back(0);
  const CollapseFit f = fit_collapse(elr, kappa);
  CHECK(f.points == static_cast<int>(elr.size()) - 2);
  CHECK(f.law.scale == Approx(1.7).epsilon(1e-4));
  CHECK(f.law.power == Approx(0.8).epsilon(1e-4));
  CHECK(f.rms_log10 < 1e-6);
  CHECK_THROWS_AS(fit_collapse({1.0}, {0.5}), UserError);
}

TEST_CASE("ode: with the collapse, c_{t+1} = kappa(E_t) c_t and E_{t+1} = kappa(E_t) E_t / (1 + E_t^2)", "[ode][collapse]") {
  const std::vector<OdeLayerStart> start = {{0, "a", 2.0, 3.0}, {1, "b", 16.0, 0.01}};
  OdeSettings s;
  s.lr = 1.0;
  s.steps = 5;
  s.collapse = CollapseLaw{0.8, 1.3};
  const auto traj = predict_trajectory(start, s);
  REQUIRE(traj.size() == 6);
  for (size_t l = 0; l < start.size(); ++l) {
    double w2 = start[l].w2, c = start[l].e * start[l].w2, big_e = s.lr * start[l].e;
    for (int t = 0; t <= 5; ++t) {
      INFO("layer " << l << " step " << t);
      CHECK(traj[t][l].w2 == Approx(w2).epsilon(1e-12));
      CHECK(traj[t][l].c == Approx(c).epsilon(1e-12));
      CHECK(traj[t][l].elr == Approx(big_e).epsilon(1e-12));
      const double k = s.collapse.kappa(big_e);
      w2 *= 1 + big_e * big_e;  // |W|^2 grows by 1 + E^2 whatever c does next
      c *= k;
      big_e = k * big_e / (1 + big_e * big_e);
    }
  }
  // E_0 = 3: the constant-c model's 0.3 times kappa(3) = (1 + (3 / 0.8)^2)^(-0.65).
  CHECK(traj[1][0].elr == Approx(0.3 * std::pow(1 + 3.75 * 3.75, -0.65)).epsilon(1e-12));
}
