#include "experiments/data/image_folder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "engine/error.h"
#include "experiments/data/image_transforms.h"
#include "experiments/data/jpeg.h"
#include "experiments/data/worker_pool.h"

namespace elr {

namespace fs = std::filesystem;

namespace {

bool is_jpeg_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg";
}

bool is_folder(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// The class folders of a split, sorted.
std::vector<std::string> class_folders(const fs::path& split) {
  if (!is_folder(split))
    throw UserError(fmt::format("{}: no such folder (expected ROOT/train and ROOT/val)", split.string()));
  std::vector<std::string> classes;
  std::error_code ec;
  for (fs::directory_iterator it(split, ec), end; !ec && it != end; it.increment(ec))
    if (is_folder(it->path())) classes.push_back(it->path().filename().string());
  if (ec) throw UserError(fmt::format("{}: cannot list: {}", split.string(), ec.message()));
  if (classes.empty()) throw UserError(fmt::format("{}: no class folders", split.string()));
  std::sort(classes.begin(), classes.end());
  return classes;
}

// The JPEG files under a class folder in torchvision's order: folders sorted by path, files by
// name within each folder (sorted(os.walk(...)), then sorted file names).
std::vector<std::string> class_files(const fs::path& folder) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, file name)
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, fs::directory_options::follow_directory_symlink, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (is_folder(it->path()) || !is_jpeg_name(it->path())) continue;
    found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
  }
  if (ec) throw UserError(fmt::format("{}: cannot list: {}", folder.string(), ec.message()));
  if (found.empty()) throw UserError(fmt::format("{}: no .jpg or .jpeg file in this class folder", folder.string()));
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& [dir, name] : found) paths.push_back((fs::path(dir) / name).string());
  return paths;
}

// Decodes every image once and leaves out the unreadable ones.
void drop_unreadable(Dataset& d, ImageFiles& files, const std::string& split) {
  const int64_t n = static_cast<int64_t>(files.paths.size());
  std::fprintf(stderr, "imagefolder: checking the %lld images of %s ...\n", static_cast<long long>(n), split.c_str());
  std::vector<std::string> errors(files.paths.size());
  WorkerPool pool(files.threads);
  pool.run(n, [&](int64_t i) {
    try {
      read_jpeg(files.paths[i]);
    } catch (const UserError& e) {
      errors[i] = e.what();
    }
  });
  std::vector<std::string> paths;
  std::vector<int32_t> labels;
  std::string first;
  for (int64_t i = 0; i < n; ++i) {
    if (!errors[i].empty()) {
      if (first.empty()) first = errors[i];
      continue;
    }
    paths.push_back(std::move(files.paths[i]));
    labels.push_back(d.labels[i]);
  }
  files.skipped = n - static_cast<int64_t>(paths.size());
  files.paths = std::move(paths);
  d.labels = std::move(labels);
  if (files.skipped > 0)
    std::fprintf(stderr, "imagefolder: left out %lld unreadable images of %lld in %s (the first: %s)\n",
                 static_cast<long long>(files.skipped), static_cast<long long>(n), split.c_str(), first.c_str());
  if (d.labels.empty()) throw UserError(fmt::format("{}: no readable image", split));
}

}  // namespace

Dataset load_image_folder(const std::string& root, bool train, const ImageFolderOptions& o) {
  ELR_CHECK(o.image_size > 0, "load_image_folder: image size {} must be positive", o.image_size);
  const fs::path split = fs::path(root) / (train ? "train" : "val");
  const std::vector<std::string> classes = class_folders(fs::path(root) / "train");
  if (!train && class_folders(split) != classes)
    throw UserError(fmt::format("{}: its class folders differ from those of {}", split.string(),
                                (fs::path(root) / "train").string()));
  Dataset d;
  d.name = train ? "imagefolder-train" : "imagefolder-val";
  d.channels = 3;
  d.height = d.width = o.image_size;
  d.classes = static_cast<int>(classes.size());
  auto files = std::make_shared<ImageFiles>();
  files->threads = o.threads;
  for (size_t k = 0; k < classes.size(); ++k) {
    for (std::string& path : class_files(split / classes[k])) {
      files->paths.push_back(std::move(path));
      d.labels.push_back(static_cast<int32_t>(k));
    }
  }
  if (o.skip_corrupt) drop_unreadable(d, *files, split.string());
  d.files = std::move(files);
  return d;
}

void image_folder_sample(const Dataset& data, int64_t sample, bool augment, uint64_t seed, int64_t epoch,
                         int64_t position, uint8_t* chw) {
  ELR_CHECK(data.files && sample >= 0 && sample < static_cast<int64_t>(data.files->paths.size()),
            "image_folder_sample: '{}' has no image file {}", data.name, sample);
  ELR_CHECK(data.channels == 3 && data.height == data.width, "image_folder_sample: '{}' is {}x{}x{}, not RGB squares",
            data.name, data.channels, data.height, data.width);
  const RgbImage image = read_jpeg(data.files->paths[sample]);
  if (augment)
    train_transform(image, draw_train_crop(image.height, image.width, seed, epoch, position), data.height, chw);
  else
    eval_transform(image, data.height, chw);
}

Normalization imagenet_normalization() { return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}}; }

}  // namespace elr
