// Train options of the science studies (--keep-checkpoints, --affine-lr-scale) and `elrscope
// critical` end to end on a tiny synthetic run.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/run/run_logs.h"
#include "experiments/run/train.h"
#include "experiments/studies/critical.h"
#include "test_util.h"

using namespace elr;

using elr::testing::temp_dir;

namespace {

TrainConfig tiny_run(const std::string& out) {
  TrainConfig c;
  c.model.name = "plain";
  c.model.depth = 4;
  c.model.width = 6;
  c.dataset = "synthetic";
  c.synthetic_size = 64;
  c.batch = 16;
  c.steps = 4;
  c.lr = 0.2;
  c.momentum = 0;
  c.schedule = ScheduleKind::Constant;
  c.evaluate = false;
  c.out = out;
  c.progress = false;
  return c;
}

}  // namespace

TEST_CASE("train: --keep-checkpoints keeps the states before the steps named, and refuses bad text", "[train][critical]") {
  const std::string dir = temp_dir("keep");
  TrainConfig c = tiny_run(dir);
  c.keep_checkpoints = "3, 0 9";  // step 9 is past the run: not kept
  CHECK(kept_checkpoint_steps(c) == std::vector<int64_t>{0, 3, 9});
  train(c);
  CHECK(path_exists(kept_checkpoint_path(dir, 0)));
  CHECK(path_exists(kept_checkpoint_path(dir, 3)));
  CHECK(!path_exists(kept_checkpoint_path(dir, 9)));
  c.keep_checkpoints = "0 x";
  CHECK_THROWS_WITH(validate_train_config(c), Catch::Contains("--keep-checkpoints") && Catch::Contains("'x'"));
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("train: --affine-lr-scale 0 freezes the batch norms and the classifier, and only them", "[train][critical]") {
  const std::string dir = temp_dir("affine");
  TrainConfig c = tiny_run(dir);
  c.affine_lr_scale = 0;
  train(c);
  std::set<std::string> moved, frozen;
  for (const LayerRow& r : read_layers_csv(dir + "/layers.csv")) {
    INFO(r.name << " step " << r.step);
    CHECK(r.base_grad == Approx(std::sqrt(r.w2 * r.g2)));
    const bool affine = r.kind == "bn_weight" || r.kind == "bn_bias" || r.kind == "classifier";
    if (affine) {
      CHECK(r.dw2 == 0);
      CHECK(r.lr == 0);
      frozen.insert(r.name);
    } else if (r.dw2 > 0) {
      moved.insert(r.name);
    }
  }
  CHECK(!frozen.empty());
  CHECK(moved.size() == 4);  // every conv
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("critical: probes a kept state on its lr grid, with the constant-c prediction at 1/sqrt(e_max e_min)",
          "[critical]") {
  const std::string dir = temp_dir("critical_run"), out = temp_dir("critical_out");
  TrainConfig c = tiny_run(dir);
  c.keep_checkpoints = "0 2";
  train(c);
  CriticalConfig cc;
  cc.runs = {dir};
  cc.at = {0, 2, 7};  // 7 not kept: said in a note
  cc.octaves_below = 1;
  cc.octaves_above = 1;
  cc.per_octave = 2;
  cc.out = out;
  cc.progress = false;
  const CriticalResult r = run_critical(cc);
  write_critical_outputs(cc, r);
  REQUIRE(r.points.size() == 2);
  CHECK(r.law_fitted);
  for (const CriticalPoint& p : r.points) {
    INFO("step " << p.step);
    CHECK(p.critical_lr > 0);
    // The grid is critical_lr x 2^(k/2), k = -2..2; the measured minimum is one of its points.
    const double k = 2 * std::log2(p.lr_min_meas / p.critical_lr);
    CHECK(std::abs(k - std::round(k)) < 1e-9);
    CHECK(std::abs(k) <= 2);
    // Constant c: u / (1 + u^2) is symmetric in log u, so the minimum is the critical LR itself.
    CHECK(p.lr_min_model == Approx(p.critical_lr).epsilon(1e-5));
  }
  bool said = false;
  for (const std::string& n : r.notes) said = said || n.find("7") != std::string::npos;
  CHECK(said);
  CHECK(path_exists(out + "/critical_summary.csv"));
  CHECK(path_exists(out + "/kappa_fit.csv"));
  // Settings unchanged: the probes are read back, not taken again, and give the same points.
  const CriticalResult again = run_critical(cc);
  REQUIRE(again.points.size() == 2);
  CHECK(again.points[0].lr_min_meas == r.points[0].lr_min_meas);
  CHECK(again.points[1].spread_min_meas == Approx(r.points[1].spread_min_meas).epsilon(1e-12));
  cc.per_octave = 0;
  CHECK_THROWS_WITH(run_critical(cc), Catch::Contains("--per-octave"));
  std::system(("rm -rf '" + dir + "' '" + out + "'").c_str());
}
