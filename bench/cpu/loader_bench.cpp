#include "bench/cpu/loader_bench.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>

#include "bench/cpu/step_bench.h"
#include "engine/error.h"
#include "experiments/data/data_loader.h"
#include "experiments/data/image_folder.h"
#include "experiments/data/synthetic_image_folder.h"

namespace elr::bench {

namespace {

// A temp folder removed with its contents at scope exit; or the caller's folder, kept.
class ImageFolderPlace {
 public:
  explicit ImageFolderPlace(const std::string& given) : path_(given) {
    if (!path_.empty()) return;
    std::string pattern = (std::filesystem::temp_directory_path() / "elr-loader-bench-XXXXXX").string();
    ELR_CHECK(mkdtemp(pattern.data()) != nullptr, "bench_loader: cannot make a temp folder from {}", pattern);
    path_ = pattern;
    owned_ = true;
  }
  ~ImageFolderPlace() {
    std::error_code ec;
    if (owned_) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool owned_ = false;
};

}  // namespace

std::vector<LoaderRow> bench_loader(const LoaderBenchConfig& c) {
  constexpr int kClasses = 4;
  ELR_CHECK(c.images >= kClasses && c.repeats >= 1, "bench_loader: {} images, {} repeats", c.images, c.repeats);
  ImageFolderPlace place(c.folder);
  SyntheticFolderSpec spec;
  spec.classes = kClasses;
  spec.train_per_class = c.images / kClasses;
  spec.val_per_class = 1;
  spec.height = c.height;
  spec.width = c.width;
  spec.vary_size = false;
  write_synthetic_image_folder(place.path(), spec);

  std::vector<LoaderRow> rows;
  for (int threads : c.threads) {
    ImageFolderOptions options;
    options.image_size = c.image_size;
    options.threads = threads;
    const Dataset data = load_image_folder(place.path(), true, options);
    // The whole folder as one batch, made on this thread (with the decoding pool): a pass.
    DataLoader loader(data, data.size(), 1, true, true, true, channel_normalization(data), false);
    LoaderRow row;
    row.description = fmt::format("{} JPEGs of {}x{} (quality {}) -> {}x{} random resized crops, flipped, normalized",
                                  data.size(), c.width, c.height, spec.quality, c.image_size, c.image_size);
    row.threads = threads;
    row.images = static_cast<int>(data.size());
    for (int pass = 0; pass <= c.repeats; ++pass) {
      const auto start = std::chrono::steady_clock::now();
      loader.make_batch(pass, 0);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (pass > 0) row.pass_s.push_back(s);  // pass 0 warms the page cache and the allocator
    }
    row.median_s = median_of(row.pass_s);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace elr::bench
