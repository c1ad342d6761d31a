#include "experiments/data/loader_bench_folder.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "engine/error.h"
#include "experiments/data/data_loader.h"
#include "experiments/data/image_folder.h"
#include "experiments/data/synthetic_image_folder.h"

namespace elr {

namespace {
constexpr int kClasses = 4;
}

LoaderBenchFolder::LoaderBenchFolder(const LoaderBenchFolderSpec& spec) : spec_(spec), path_(spec.folder) {
  ELR_CHECK(spec.images >= kClasses, "loader bench: at least {} images, got {}", kClasses, spec.images);
  if (path_.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "elr-loader-bench-XXXXXX").string();
    ELR_CHECK(mkdtemp(pattern.data()) != nullptr, "loader bench: cannot make a temp folder from {}", pattern);
    path_ = pattern;
    owned_ = true;
  }
  SyntheticFolderSpec folder;
  folder.classes = kClasses;
  folder.train_per_class = spec.images / kClasses;
  folder.val_per_class = 1;
  folder.height = spec.height;
  folder.width = spec.width;
  folder.vary_size = false;
  quality_ = folder.quality;
  write_synthetic_image_folder(path_, folder);
}

LoaderBenchFolder::~LoaderBenchFolder() {
  std::error_code ec;
  if (owned_) std::filesystem::remove_all(path_, ec);
}

bench::LoaderPass LoaderBenchFolder::loader(int threads) const {
  ImageFolderOptions options;
  options.image_size = spec_.image_size;
  options.threads = threads;
  auto data = std::make_shared<const Dataset>(load_image_folder(path_, true, options));
  // The whole folder as one batch, made on the calling thread (with the decoding pool): a pass.
  auto batches = std::make_shared<DataLoader>(*data, data->size(), 1, true, true, true, channel_normalization(*data),
                                              false);
  bench::LoaderPass pass;
  pass.description = fmt::format("{} JPEGs of {}x{} (quality {}) -> {}x{} random resized crops, flipped, normalized",
                                 data->size(), spec_.width, spec_.height, quality_, spec_.image_size, spec_.image_size);
  pass.images = static_cast<int>(data->size());
  pass.run = [data, batches](int index) { batches->make_batch(index, 0); };
  return pass;
}

}  // namespace elr
