// `elrscope train` end to end on the synthetic set: the run directory's files, layers.csv against
// statistics recomputed independently from the tensors of a replayed run, and determinism.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <omp.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/autograd.h"
#include "engine/files.h"
#include "engine/ops.h"
#include "experiments/data/data_loader.h"
#include "experiments/data/dataset.h"
#include "experiments/run/train.h"
#include "layers/models.h"
#include "optim/sgd.h"
#include "test_util.h"

using namespace elr;

using elr::testing::temp_dir;

namespace {

TrainConfig tiny_config(const std::string& out) {
  TrainConfig c;
  c.model.name = "plain";
  c.model.depth = 4;
  c.model.width = 6;
  c.dataset = "synthetic";
  c.synthetic_size = 64;
  c.batch = 16;
  c.steps = 5;
  c.lr = 0.2;
  c.momentum = 0.9;
  c.schedule = ScheduleKind::Constant;
  c.out = out;
  c.progress = false;
  return c;
}

std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string f; std::getline(hs, f, ',');) header.push_back(f);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::stringstream ls(line);
    std::map<std::string, std::string> row;
    size_t i = 0;
    for (std::string f; i < header.size(); ++i) {
      std::getline(ls, f, ',');
      row[header[i]] = f;
    }
    rows.push_back(row);
  }
  return rows;
}

// |W|^2 and |g|^2 of every parameter before each update of the run `c` describes, from plain loops
// over the tensors of a replay of that run: the same data, initialization and batches, a forward
// and backward written out here, and the engine's SGD for the update.
struct Replay {
  std::map<std::pair<int64_t, std::string>, std::pair<double, double>> sums;  // (step, name) -> (w2, g2)
  std::map<std::string, bool> scale_invariant;
};

Replay replay_run(const TrainConfig& c) {
  const Dataset data = load_named_dataset(c.dataset, c.data_dir, true, c.synthetic_size, c.seed + 1000003);
  ModelConfig mc = c.model;
  mc.in_channels = data.channels;
  mc.image_size = data.height;
  mc.classes = data.classes;
  std::shared_ptr<Module> model = build_model(mc);
  model->reset_parameters(c.seed);
  DataLoader loader(data, c.batch, c.seed, true, false, true, channel_normalization(data), false);
  Sgd sgd(model->parameters(), SgdConfig{c.momentum, c.weight_decay, c.nesterov});
  ScheduleConfig schedule;
  schedule.kind = c.schedule;
  schedule.lr = c.lr;
  schedule.total_steps = c.steps;
  LrController controller(schedule, LrControlConfig{});
  Replay r;
  for (int64_t step = 0; step < c.steps; ++step) {
    const Batch b = loader.next();
    autograd::tape().clear();
    const ops::LossResult loss = ops::cross_entropy(model->forward(b.images), b.labels);
    autograd::tape().backward(loss.loss);
    for (const Parameter* p : sgd.params()) {
      double w2 = 0, g2 = 0;
      const float* w = p->value.data();
      const float* g = p->value.grad().data();
      for (int64_t i = 0; i < p->value.numel(); ++i) {
        w2 += static_cast<double>(w[i]) * w[i];
        g2 += static_cast<double>(g[i]) * g[i];
      }
      r.sums[{step, p->name}] = {w2, g2};
      r.scale_invariant[p->name] = p->scale_invariant;
    }
    double global_lr = 0;
    sgd.step(controller, global_lr);
  }
  return r;
}

}  // namespace

TEST_CASE("train: layers.csv matches statistics recomputed from the tensors", "[train]") {
  const std::string dir = temp_dir("layers");
  TrainConfig c = tiny_config(dir);
  train(c);
  const Replay replay = replay_run(c);
  const auto& saved = replay.sums;
  const auto& si = replay.scale_invariant;
  auto rows = read_csv(dir + "/layers.csv");
  REQUIRE(rows.size() == saved.size());
  std::map<int64_t, std::pair<double, double>> elr_range;  // step -> (min, max) over SI layers
  int si_rows = 0;
  for (auto& row : rows) {
    const int64_t step = std::stoll(row["step"]);
    const auto& [w2, g2] = saved.at({step, row["name"]});
    INFO(row["name"] << " at step " << step);
    CHECK(std::stod(row["w2"]) == Approx(w2).epsilon(1e-9));
    CHECK(std::stod(row["g2"]) == Approx(g2).epsilon(1e-9));
    CHECK((row["scale_invariant"] == "1") == si.at(row["name"]));
    if (row["scale_invariant"] == "1") {
      ++si_rows;
      const double lr = std::stod(row["lr"]);
      const double elr = lr * std::sqrt(g2 / w2);
      CHECK(std::stod(row["elr"]) == Approx(elr).epsilon(1e-9));
      CHECK(std::stod(row["elr_classic"]) == Approx(lr / w2).epsilon(1e-9));
      const double cosine = std::stod(row["gw"]) / std::sqrt(w2 * g2);
      CHECK(std::abs(cosine) < 1e-4);
      auto it = elr_range.find(step);
      if (it == elr_range.end()) elr_range[step] = {elr, elr};
      else it->second = {std::min(it->second.first, elr), std::max(it->second.second, elr)};
    }
  }
  CHECK(si_rows == 4 * 5);
  std::ifstream metrics(dir + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line); ++lines) {
    auto j = nlohmann::json::parse(line);
    const auto& [mn, mx] = elr_range.at(j["step"].get<int64_t>());
    CHECK(j["spread"].get<double>() == Approx(mx / mn).epsilon(1e-9));
  }
  CHECK(lines == 5);
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["steps"] == 5);
  CHECK(summary["step_mode"] == "cpu");
  CHECK(summary["test_accuracy"].is_number());
  auto config = read_json(dir + "/config.json");
  CHECK(config["model"] == "plain");
  CHECK(config["parameters"].size() == saved.size() / 5);
}

TEST_CASE("train: the same seed gives byte-identical outputs, another seed does not", "[train][determinism]") {
  const std::string a = temp_dir("det_a"), b = temp_dir("det_b"), d = temp_dir("det_c");
  TrainConfig c = tiny_config(a);
  train(c);
  c.out = b;
  train(c);
  CHECK(elr::testing::read_all(a + "/layers.csv") == elr::testing::read_all(b + "/layers.csv"));
  c.out = d;
  c.seed = 1;
  train(c);
  CHECK(elr::testing::read_all(a + "/layers.csv") != elr::testing::read_all(d + "/layers.csv"));
}

TEST_CASE("train: byte-identical outputs with 1, 2 and 3 threads", "[train][determinism]") {
  std::string reference;
  for (int threads : {1, 2, 3}) {
    TrainConfig c = tiny_config(temp_dir("threads" + std::to_string(threads)));
    c.model.width = 16;
    c.batch = 32;
    c.synthetic_size = 256;
    c.threads = threads;
    train(c);
    const std::string csv = elr::testing::read_all(c.out + "/layers.csv");
    if (reference.empty()) reference = csv;
    INFO("threads " << threads);
    CHECK(csv == reference);
  }
  omp_set_num_threads(omp_get_num_procs());
}

TEST_CASE("train: a tiny net learns the synthetic set", "[train]") {
  TrainConfig c = tiny_config(temp_dir("learn"));
  c.steps = 60;
  c.synthetic_size = 512;
  c.lr = 0.1;
  std::vector<double> losses;
  TrainResult r = train(c, [&](int64_t, double loss, const std::vector<LayerStats>&) { losses.push_back(loss); });
  REQUIRE(losses.size() == 60);
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    first += losses[i];
    last += losses[50 + i];
  }
  CHECK(last < 0.6 * first);
  CHECK(r.test_accuracy > 0.5);
}

TEST_CASE("train: divergence stops the run and is recorded", "[train][divergence]") {
  TrainConfig c = tiny_config(temp_dir("diverge"));
  c.lr = 1e30;
  c.steps = 20;
  TrainResult r = train(c);
  CHECK(r.diverged);
  CHECK(r.steps == r.diverged_step + 1);
  CHECK(r.steps < 20);
  auto summary = read_json(c.out + "/summary.json");
  CHECK(summary["diverged"] == true);
  CHECK(summary["divergence"].get<std::string>().find("step") != std::string::npos);
}

TEST_CASE("train: a loss far above chance counts as divergence, at a threshold that can be changed",
          "[train][divergence]") {
  for (const double lr : {1e3, 1e8}) {
    INFO("lr " << lr);
    TrainConfig c = tiny_config(temp_dir("too_high"));
    c.lr = lr;
    c.steps = 20;
    const TrainResult r = train(c);
    CHECK(r.diverged);
    CHECK(r.steps == r.diverged_step + 1);
    CHECK_THAT(r.divergence, Catch::Contains("is above the divergence threshold 23.0259 (--divergence-loss)"));
    CHECK(read_json(c.out + "/summary.json")["diverged"] == true);
    CHECK(read_json(c.out + "/config.json")["divergence_threshold"] == Approx(10 * std::log(10.0)));
  }
  // The exit code of a diverged run; with a threshold given, the same run goes on to the end.
  auto cli_run = [](const std::string& out, const std::string& extra) {
    return elr::testing::run_elrscope("train --model plain --depth 4 --width 6 --dataset synthetic --synthetic-size 64 "
                                      "--batch 16 --steps 20 --lr 1e3 --no-eval --quiet --threads 1 --out " + out +
                                      " " + extra);
  };
  const std::string strict = temp_dir("too_high_cli"), lenient = temp_dir("too_high_lenient");
  CHECK(cli_run(strict, "").exit_code == 3);
  CHECK(cli_run(lenient, "--divergence-loss 1e30").exit_code == 0);
  const nlohmann::json summary = read_json(lenient + "/summary.json");
  CHECK(summary["steps"] == 20);
  CHECK(summary["diverged"] == false);
  CHECK(summary["final_loss"].get<double>() > 23.03);
}

TEST_CASE("train: --version names the revision that config.json records", "[train][cli]") {
  const TrainConfig c = tiny_config(temp_dir("version"));
  train(c);
  const auto v = elr::testing::run_elrscope("--version");
  CHECK(v.exit_code == 0);
  const std::string revision = read_json(c.out + "/config.json")["git_revision"];
  CHECK(v.output == "elrscope 0.1.0 (git " + revision + ")\n");
}
