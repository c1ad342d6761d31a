// `elrscope bench`'s image-folder loader row: decoding and the training transform timed with each
// thread count on a generated folder, in the report's JSON and Markdown.
#include <catch2/catch.hpp>

#include "bench/cpu/loader_bench.h"
#include "bench/report.h"
#include "test_util.h"

using namespace elr;
using namespace elr::bench;

TEST_CASE("bench: the image-folder loader row reports images per second per core", "[bench][loader]") {
  LoaderBenchConfig c;
  c.images = 8;
  c.height = 30;
  c.width = 40;
  c.image_size = 16;
  c.threads = {1, 2};
  c.repeats = 2;
  c.folder = testing::temp_dir("loader_bench");
  const std::vector<LoaderRow> rows = bench_loader(c);
  REQUIRE(rows.size() == 2);
  for (const LoaderRow& r : rows) {
    CHECK(r.images == 8);
    CHECK(r.pass_s.size() == 2);
    CHECK(r.median_s > 0);
    CHECK(r.images_per_s() == Approx(8 / r.median_s));
    CHECK(r.images_per_s_per_core() == Approx(r.images_per_s() / r.threads));
  }
  CHECK(rows[0].threads == 1);
  CHECK(rows[1].threads == 2);
  CHECK(rows[0].description.find("40x30") != std::string::npos);
  CHECK(testing::exists(c.folder + "/train/class3"));

  BenchReport report;
  report.loader = rows;
  const nlohmann::json j = to_json(report);
  REQUIRE(j["loader"].size() == 2);
  CHECK(j["loader"][1]["threads"] == 2);
  CHECK(j["loader"][1]["images_per_s_per_core"].get<double>() == Approx(rows[1].images_per_s_per_core()));
  const std::string md = to_markdown(report);
  CHECK(md.find("Image-folder loader") != std::string::npos);
  CHECK(md.find("images/s per core") != std::string::npos);
}
