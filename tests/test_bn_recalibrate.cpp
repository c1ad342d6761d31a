// --bn-recalibrate: training batches through the final weights make the BN running statistics those
// of the weights (eval mode then computes what training mode computes on such a batch), and the
// run's own files, checkpoint included, stay those of the run without it.
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "experiments/data/data_loader.h"
#include "experiments/data/dataset.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/train.h"
#include "layers/models.h"
#include "optim/sgd.h"
#include "test_util.h"

using namespace elr;

using elr::testing::read_all;
using elr::testing::temp_dir;

namespace {

double largest_difference(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(double(x[i]) - double(y[i])));
  return worst;
}

// Every parameter and buffer of the run's checkpoint (a plain-6 of width 4 on the synthetic set).
std::vector<std::vector<float>> checkpoint_tensors(const std::string& run_dir) {
  ModelConfig mc;
  mc.name = "plain";
  mc.depth = 6;
  mc.width = 4;
  mc.in_channels = 1;
  mc.image_size = 16;
  mc.classes = 10;
  std::shared_ptr<Module> model = build_model(mc);
  Sgd sgd(model->parameters(), SgdConfig{0.0, 0.0, false});
  load_checkpoint(run_dir + "/checkpoint.safetensors", *model, sgd);
  std::vector<std::vector<float>> tensors;
  for (const Parameter* p : model->parameters()) tensors.push_back(p->value.to_vector());
  for (const Buffer* b : model->buffers()) tensors.push_back(b->value.to_vector());
  return tensors;
}

// metrics.jsonl without elapsed_s, the one column that depends on timing.
std::vector<nlohmann::json> metrics_without_time(const std::string& run_dir) {
  std::vector<nlohmann::json> rows;
  std::istringstream lines(read_all(run_dir + "/metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    rows.push_back(nlohmann::json::parse(line));
    rows.back().erase("elapsed_s");
  }
  REQUIRE(!rows.empty());
  return rows;
}

}  // namespace

TEST_CASE("bn recalibration: the running statistics become those of the current weights", "[train][bn]") {
  // One batch that is the whole data set, so that every recalibration batch has the same statistics.
  const Dataset data = load_named_dataset("synthetic", "", true, 32, 5);
  const Normalization norm = channel_normalization(data);
  ModelConfig mc;
  mc.name = "plain";
  mc.depth = 5;
  mc.width = 4;
  mc.in_channels = data.channels;
  mc.image_size = data.height;
  mc.classes = data.classes;
  std::shared_ptr<Module> model = build_model(mc);
  model->reset_parameters(3);
  DataLoader loader(data, 32, 0, false, false, true, norm, false);
  const Batch batch = loader.make_batch(0, 0);

  autograd::NoGradGuard no_grad;
  model->train(true);
  const Tensor train_mode = model->forward(batch.images);  // one update of the running statistics (momentum 0.1)
  model->train(false);
  const double before = largest_difference(model->forward(batch.images), train_mode);
  CHECK(before > 0.05);  // the statistics from initialization (mean 0, var 1) do not fit the weights

  recalibrate_batch_norm(*model, loader, 150, Device::cpu());
  model->train(false);
  const double after = largest_difference(model->forward(batch.images), train_mode);
  INFO("largest logit difference to training mode: before " << before << ", after " << after);
  // Left: the stale share 0.9^150 and the unbiased variance of the running statistics (n/(n-1) with
  // n = 32 x 16 x 16 values per channel), amplified through the layers.
  CHECK(after < 1e-2 * before);
  CHECK(!model->training());
}

TEST_CASE("bn recalibration: the run's files stay those of the run without it", "[train][bn]") {
  auto config = [](const std::string& out, int64_t recalibrate) {
    TrainConfig c;
    c.model.name = "plain";
    c.model.depth = 6;
    c.model.width = 4;
    c.dataset = "synthetic";
    c.synthetic_size = 64;
    c.batch = 16;
    c.steps = 12;
    c.lr = 2.0;  // fast-moving weights: statistics gathered during training lag behind them
    c.momentum = 0;
    c.schedule = ScheduleKind::Constant;
    c.bn_recalibrate = recalibrate;
    c.out = out;
    c.progress = false;
    return c;
  };
  const TrainResult plain = train(config(temp_dir("bn_plain"), 0));
  const TrainResult recalibrated = train(config(temp_dir("bn_recalibrated"), 30));
  CHECK(read_all(plain.run_dir + "/layers.csv") == read_all(recalibrated.run_dir + "/layers.csv"));
  // The checkpoints hold the same tensors, running statistics included (their configs differ).
  const std::vector<std::vector<float>> a = checkpoint_tensors(plain.run_dir), b = checkpoint_tensors(recalibrated.run_dir);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);
  CHECK(metrics_without_time(plain.run_dir) == metrics_without_time(recalibrated.run_dir));
  CHECK(plain.test_accuracy >= 0);
  CHECK(recalibrated.test_accuracy >= 0);
}
