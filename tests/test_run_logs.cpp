// The run files' one writer and reader (experiments/run/run_logs.h): what is written reads back the
// same, a line cut short by a crash is left out, a malformed file is refused naming the file, the
// line and the column, and --resume cuts the logs back to a step.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/run/run_logs.h"
#include "test_util.h"

using namespace elr;
using Catch::Contains;
using elr::testing::read_all;
using elr::testing::temp_dir;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

LayerStats stats(const std::string& name, ParamKind kind, bool scale_invariant, double w2) {
  LayerStats l;
  l.name = name;
  l.kind = kind;
  l.scale_invariant = scale_invariant;
  l.numel = 72;
  l.w2 = w2;
  l.g2 = 0.25;
  l.gw = -1e-9;
  l.v2 = 1.0 / 3;
  l.dw2 = 1.0;
  l.lr = 0.1;
  return l;
}

// A layers.csv of steps 0..steps-1 with two tensors per step, and the matching metrics.jsonl.
void write_logs(const std::string& dir, int steps) {
  make_directories(dir);
  std::string layers = layers_csv_header() + "\n", metrics;
  for (int s = 0; s < steps; ++s) {
    layers += layers_csv_line(layer_row(s, 0, stats("layers.0.conv.weight", ParamKind::Conv, true, 2.0 + s))) + "\n";
    layers += layers_csv_line(layer_row(s, 1, stats("layers.0.bn.bias", ParamKind::BnBias, false, 1.0))) + "\n";
    MetricsRow m;
    m.step = s;
    m.spread = 1.5 + s;
    metrics += metrics_jsonl_line(m) + "\n";
  }
  write_text(dir + "/layers.csv", layers);
  write_text(dir + "/metrics.jsonl", metrics);
}

}  // namespace

TEST_CASE("run logs: layers.csv keeps its columns and reads back what was written", "[run_logs]") {
  CHECK(layers_csv_header() ==
        "step,layer,name,kind,scale_invariant,w2,g2,gw,v2,dw2,lr,elr,elr_classic,rel_update,numel,base_grad");
  const LayerStats conv = stats("layers.0.conv.weight", ParamKind::Conv, true, 4.0);
  CHECK(layers_csv_line(layer_row(3, 0, conv)) ==
        "3,0,layers.0.conv.weight,conv,1,4,0.25,-1e-09,0.3333333333333333,1,0.1,0.025,0.025,0.5,72,1");
  // Not scale-invariant: no ELR cells. A non-finite statistic is written as nan / inf (rel_update is 0
  // unless |W|^2 > 0).
  LayerStats bias = stats("layers.0.bn.bias", ParamKind::BnBias, false, kNaN);
  bias.g2 = std::numeric_limits<double>::infinity();
  CHECK(layers_csv_line(layer_row(3, 1, bias)) ==
        "3,1,layers.0.bn.bias,bn_bias,0,nan,inf,-1e-09,0.3333333333333333,1,0.1,,,0,72,nan");

  const std::string dir = temp_dir("run_logs_layers");
  make_directories(dir);
  write_text(dir + "/layers.csv", layers_csv_header() + "\n" + layers_csv_line(layer_row(3, 0, conv)) + "\n" +
                                      layers_csv_line(layer_row(3, 1, bias)) + "\n");
  const std::vector<LayerRow> rows = read_layers_csv(dir + "/layers.csv");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].step == 3);
  CHECK(rows[0].layer == 0);
  CHECK(rows[0].name == "layers.0.conv.weight");
  CHECK(rows[0].kind == "conv");
  CHECK(rows[0].scale_invariant);
  CHECK(rows[0].w2 == 4.0);
  CHECK(rows[0].v2 == 1.0 / 3);  // shortest round-trip text: the same double
  CHECK(rows[0].elr == conv.elr());
  CHECK(rows[0].numel == 72);
  CHECK(rows[0].base_grad == 1.0);  // |g| |W| = sqrt(0.25 x 4)
  CHECK(!rows[1].scale_invariant);
  CHECK(!rows[1].elr.has_value());
  CHECK(std::isnan(rows[1].w2));
  CHECK(std::isinf(rows[1].g2));
  // Written again, the rows give the same bytes.
  CHECK(layers_csv_line(rows[0]) == layers_csv_line(layer_row(3, 0, conv)));
  CHECK(layers_csv_line(rows[1]) == layers_csv_line(layer_row(3, 1, bias)));

  // A file from before base_grad (the last column) still reads, base_grad as NaN.
  const std::string line = layers_csv_line(layer_row(3, 0, conv));
  write_text(dir + "/layers.csv", "step,layer,name,kind,scale_invariant,w2,g2,gw,v2,dw2,lr,elr,elr_classic,rel_update,"
                                  "numel\n" + line.substr(0, line.rfind(',')) + "\n");
  const std::vector<LayerRow> old = read_layers_csv(dir + "/layers.csv");
  REQUIRE(old.size() == 1);
  CHECK(old[0].w2 == 4.0);
  CHECK(std::isnan(old[0].base_grad));
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("run logs: metrics.jsonl writes non-finite statistics as null and reads them as NaN", "[run_logs]") {
  StepRecord r;
  r.step = 5;
  r.epoch = 1;
  r.batch_size = 8;
  r.correct = 3;
  r.loss = std::numeric_limits<double>::infinity();
  r.global_lr = 0.05;
  SpreadStats spread;
  spread.layers = 4;
  spread.zero_layers = 1;
  spread.spread = kNaN;
  spread.elr_min = 0.01;
  const std::string line = metrics_jsonl_line(metrics_row(r, spread, 1.25));
  const nlohmann::json j = nlohmann::json::parse(line);
  CHECK(j["step"] == 5);
  CHECK(j["accuracy"] == 0.375);
  CHECK(j["loss"].is_null());
  CHECK(j["spread"].is_null());
  CHECK(j["si_layers"] == 4);
  CHECK(j["zero_elr_layers"] == 1);
  CHECK(j.size() == 14);

  const std::string dir = temp_dir("run_logs_metrics");
  make_directories(dir);
  write_text(dir + "/metrics.jsonl", line + "\n");
  const std::vector<MetricsRow> rows = read_metrics_jsonl(dir + "/metrics.jsonl");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].step == 5);
  CHECK(rows[0].epoch == 1);
  CHECK(std::isnan(rows[0].loss));
  CHECK(std::isnan(rows[0].spread));
  CHECK(rows[0].elr_min == 0.01);
  CHECK(rows[0].elapsed_s == 1.25);
  CHECK(metrics_jsonl_line(rows[0]) == line);
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("run logs: summary.json reads back, and one from before CUDA graphs still reads", "[run_logs]") {
  TrainResult r;
  r.steps = 7;
  r.final_loss = kNaN;
  r.train_accuracy = 0.5;
  r.test_accuracy = -1;  // not evaluated
  r.diverged = true;
  r.diverged_step = 6;
  r.divergence = "non-finite values at step 6";
  r.step_mode = "cpu";
  const std::string dir = temp_dir("run_logs_summary");
  make_directories(dir);
  write_run_summary(dir + "/summary.json", run_summary(r, 10));
  nlohmann::json j = read_json(dir + "/summary.json");
  CHECK(j["final_loss"].is_null());
  CHECK(j["test_accuracy"].is_null());
  CHECK(j["total_steps"] == 10);

  const RunSummary s = read_run_summary(dir + "/summary.json");
  CHECK(s.steps == 7);
  CHECK(s.total_steps == 10);
  CHECK(std::isnan(s.final_loss));
  CHECK(std::isnan(s.test_accuracy));
  CHECK(s.diverged);
  CHECK(s.diverged_step == 6);
  CHECK(s.step_mode == "cpu");

  j.erase("step_mode");
  j.erase("cuda_graph_note");
  write_json_atomic(dir + "/summary.json", j);
  CHECK(read_run_summary(dir + "/summary.json").step_mode.empty());
  j.erase("steps");
  write_json_atomic(dir + "/summary.json", j);
  CHECK_THROWS_WITH(read_run_summary(dir + "/summary.json"), Contains(dir + "/summary.json") && Contains("\"steps\""));
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("run logs: a line cut short is left out, a malformed one is refused with its file and line", "[run_logs]") {
  const std::string dir = temp_dir("run_logs_bad");
  write_logs(dir, 3);
  const std::string csv = read_all(dir + "/layers.csv"), jsonl = read_all(dir + "/metrics.jsonl");
  REQUIRE(read_layers_csv(dir + "/layers.csv").size() == 6);
  REQUIRE(read_metrics_jsonl(dir + "/metrics.jsonl").size() == 3);

  // A crash while appending leaves a last line without its newline.
  write_text(dir + "/layers.csv", csv + "3,0,layers.0.co");
  write_text(dir + "/metrics.jsonl", jsonl + "{\"step\":3,\"epo");
  CHECK(read_layers_csv(dir + "/layers.csv").size() == 6);
  CHECK(read_metrics_jsonl(dir + "/metrics.jsonl").size() == 3);

  write_text(dir + "/layers.csv", csv + "3,0,layers.0.conv.weight,conv,1,abc,1,1,1,1,1,1,1,1,72,1\n");
  CHECK_THROWS_WITH(read_layers_csv(dir + "/layers.csv"),
                    Contains(dir + "/layers.csv' line 8, column 'w2'") && Contains("'abc' is not a number"));
  write_text(dir + "/layers.csv", csv + "3,0,short\n");
  CHECK_THROWS_WITH(read_layers_csv(dir + "/layers.csv"), Contains(dir + "/layers.csv' line 8") && Contains("3 cells"));
  write_text(dir + "/layers.csv", "step,layer,name\n");
  CHECK_THROWS_WITH(read_layers_csv(dir + "/layers.csv"),
                    Contains(dir + "/layers.csv") && Contains("no column 'kind'"));
  write_text(dir + "/layers.csv", "");
  CHECK_THROWS_WITH(read_layers_csv(dir + "/layers.csv"), Contains(dir + "/layers.csv") && Contains("empty"));

  write_text(dir + "/metrics.jsonl", jsonl + "{\"step\": 3}\n");
  CHECK_THROWS_WITH(read_metrics_jsonl(dir + "/metrics.jsonl"),
                    Contains(dir + "/metrics.jsonl' line 4") && Contains("no \"epoch\""));
  write_text(dir + "/metrics.jsonl", "not json\n" + jsonl);
  CHECK_THROWS_WITH(read_metrics_jsonl(dir + "/metrics.jsonl"),
                    Contains(dir + "/metrics.jsonl' line 1") && Contains("not JSON"));
  CHECK_THROWS_WITH(read_metrics_jsonl(dir + "/absent.jsonl"),
                    Contains("cannot read") && Contains(dir + "/absent.jsonl"));
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("run logs: --resume keeps the header and the lines of the steps before the checkpoint",
          "[run_logs][resume]") {
  const std::string dir = temp_dir("run_logs_truncate");
  write_logs(dir, 5);
  const std::string csv = read_all(dir + "/layers.csv"), jsonl = read_all(dir + "/metrics.jsonl");
  write_logs(dir + "/expected", 2);
  write_text(dir + "/layers.csv", csv + "5,0,layers.0.co");  // cut short by the crash
  truncate_run_logs(dir, 2);
  CHECK(read_all(dir + "/layers.csv") == read_all(dir + "/expected/layers.csv"));
  CHECK(read_all(dir + "/metrics.jsonl") == read_all(dir + "/expected/metrics.jsonl"));

  write_text(dir + "/layers.csv", csv + "x,0\n");
  CHECK_THROWS_WITH(truncate_run_logs(dir, 2), Contains("--resume: '" + dir + "/layers.csv' line 12"));
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("run logs: a CSV table's cells by column, empty numbers as NaN, bad ones named", "[run_logs]") {
  const std::string dir = temp_dir("run_logs_table");
  make_directories(dir);
  write_text(dir + "/ode.csv", "step,layer,elr_pred,elr_meas\n0,3,0.5,\n1,3,nan,0.25\n");
  const CsvTable t(dir + "/ode.csv");
  REQUIRE(t.rows() == 2);
  CHECK(t.has("elr_meas"));
  CHECK(!t.has("w2_meas"));
  CHECK(t.integer(1, t.column("step")) == 1);
  CHECK(t.number(0, t.column("elr_pred")) == 0.5);
  CHECK(std::isnan(t.number(0, t.column("elr_meas"))));
  CHECK(std::isnan(t.number(1, t.column("elr_pred"))));
  CHECK_THROWS_WITH(t.column("w2_meas"), Contains(dir + "/ode.csv") && Contains("no column 'w2_meas'"));

  write_text(dir + "/ode.csv", "step,layer,elr_pred,elr_meas\n0,3,0.5,\n1.5,3,0.1,0.25\n");
  const CsvTable bad(dir + "/ode.csv");
  CHECK_THROWS_WITH(bad.integer(1, bad.column("step")),
                    Contains(dir + "/ode.csv' line 3, column 'step'") && Contains("'1.5' is not a whole number"));
  std::system(("rm -rf '" + dir + "'").c_str());
}
