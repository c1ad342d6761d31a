// `elrscope bench`'s image-folder loader row: decoding and the training transform timed with each
// thread count on a generated folder (kept: the test names the folder), in the report's JSON and Markdown.
#include <catch2/catch.hpp>

#include "bench/cpu/loader_bench.h"
#include "bench/report.h"
#include "experiments/data/loader_bench_folder.h"
#include "test_util.h"

using namespace elr;
using namespace elr::bench;

TEST_CASE("bench: the image-folder loader row reports images per second per core", "[bench][loader]") {
  LoaderBenchFolderSpec spec;
  spec.images = 8;
  spec.height = 30;
  spec.width = 40;
  spec.image_size = 16;
  spec.folder = testing::temp_dir("loader_bench");
  const LoaderBenchFolder folder(spec);
  const std::vector<LoaderRow> rows = bench_loader({1, 2}, 2, [&](int t) { return folder.loader(t); });
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
  CHECK(testing::exists(spec.folder + "/train/class3"));

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
