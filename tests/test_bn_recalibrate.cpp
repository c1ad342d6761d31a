// --bn-recalibrate: training batches through the final weights make the BN running statistics those
// of the weights (eval mode then computes what training mode computes on such a batch), and the
// run's own files, checkpoint included, stay those of the run without it.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/autograd.h"
#include "experiments/data/data_loader.h"
#include "experiments/data/dataset.h"
#include "experiments/run/train.h"
#include "layers/models.h"
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
  // n = 32 x 16 x 16 values per channel).
  CHECK(after < 1e-3 * before);
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
  for (const char* file : {"/metrics.jsonl", "/layers.csv", "/checkpoint.safetensors"})
    CHECK(read_all(plain.run_dir + file) == read_all(recalibrated.run_dir + file));
  CHECK(plain.test_accuracy >= 0);
  CHECK(recalibrated.test_accuracy >= 0);
}
