// The image-folder data set: JPEG decoding and the transforms against PIL and torchvision
// (tests/fixtures/image_transforms.bin), the folder's classes and files, the loader's batches
// (deterministic whatever the thread count), and corrupt or unreadable images.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "engine/error.h"
#include "experiments/data/data_loader.h"
#include "experiments/data/dataset.h"
#include "experiments/data/image_folder.h"
#include "experiments/data/image_transforms.h"
#include "experiments/data/jpeg.h"
#include "fixture.h"
#include "image_folder_fixture.h"

using namespace elr;
using namespace elr::testing;
namespace fs = std::filesystem;

namespace {

std::vector<int32_t> widened(const std::vector<uint8_t>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

ImageFolderOptions folder_options(int image_size, int threads) {
  ImageFolderOptions o;
  o.image_size = image_size;
  o.threads = threads;
  return o;
}

std::vector<float> values(const Tensor& t) {
  const Tensor c = t.to(Device::cpu());
  return std::vector<float>(c.data(), c.data() + c.numel());
}

// Every batch of `epochs` epochs of a loader over the folder, images and labels back to back.
std::vector<float> epoch_values(const Dataset& d, bool augment, uint64_t seed, bool prefetch, int epochs = 2) {
  DataLoader loader(d, 4, seed, true, augment, true, channel_normalization(d), prefetch);
  std::vector<float> all;
  for (int64_t b = 0; b < epochs * loader.batches_per_epoch(); ++b) {
    const Batch batch = loader.next();
    for (float v : values(batch.images)) all.push_back(v);
    const Tensor labels = batch.labels.to(Device::cpu());
    for (int64_t i = 0; i < labels.numel(); ++i) all.push_back(float(labels.labels()[i]));
  }
  return all;
}

}  // namespace

TEST_CASE("imagefolder: JPEG decoding and both transforms match PIL and torchvision to the bit",
          "[imagefolder][fixtures]") {
  const Fixture f = Fixture::load(fixture_path("image_transforms.bin"));
  constexpr int kSize = 24;
  for (const char* kind : {"rgb", "gray", "cmyk"}) {
    INFO(kind);
    const std::string p = fmt::format("image.{}.", kind);
    const RgbImage image = read_jpeg(fixture_path(fmt::format("imagenet_{}.jpg", kind)));
    REQUIRE(std::vector<int64_t>{image.height, image.width, 3} == f.shape(p + "decoded"));
    CHECK(widened(image.pixels) == f.ints(p + "decoded"));

    std::vector<uint8_t> out(3 * kSize * kSize);
    eval_transform(image, kSize, out.data());
    CHECK(widened(out) == f.ints(p + "eval"));
    for (int i = 0; f.has(p + fmt::format("crop{}", i)); ++i) {
      INFO("crop " << i);
      const std::vector<int32_t> b = f.ints(p + fmt::format("crop{}.box", i));
      TrainCrop crop;
      crop.box = CropBox{b[0], b[1], b[2], b[3]};
      train_transform(image, crop, kSize, out.data());
      CHECK(widened(out) == f.ints(p + fmt::format("crop{}", i)));
      crop.flip = true;
      train_transform(image, crop, kSize, out.data());
      CHECK(widened(out) == f.ints(p + fmt::format("crop{}.flipped", i)));
    }
  }
}

TEST_CASE("imagefolder: grayscale, CMYK and progressive JPEGs decode to RGB", "[imagefolder]") {
  const std::string extra = test_image_folder() + "/train/class1/";
  const RgbImage gray = read_jpeg(extra + "gray.jpg");
  REQUIRE(gray.height == 33);
  REQUIRE(gray.width == 29);
  for (size_t i = 0; i < gray.pixels.size(); i += 3) {
    CHECK(gray.pixels[i] == gray.pixels[i + 1]);
    CHECK(gray.pixels[i] == gray.pixels[i + 2]);
  }
  // Written as (r, g, b, 255) in Adobe's inverted CMYK: reads back as about (r, g, b).
  const RgbImage cmyk = read_jpeg(extra + "cmyk.jpeg");
  const std::vector<uint8_t> rgb = pattern_pixels(30, 41, 3);
  REQUIRE(cmyk.pixels.size() == rgb.size());
  double error = 0;
  for (size_t i = 0; i < rgb.size(); ++i) error += std::abs(int(cmyk.pixels[i]) - int(rgb[i]));
  CHECK(error / double(rgb.size()) < 8.0);  // JPEG's loss on a sharp pattern
  // Progressive coding orders the same quantized coefficients differently: the same pixels.
  const std::string baseline = temp_dir("baseline") + ".jpg";
  write_jpeg(baseline, pattern_pixels(45, 40, 3).data(), 45, 40, 3);
  const RgbImage progressive = read_jpeg(extra + "progressive.JPG");
  CHECK(progressive.pixels == read_jpeg(baseline).pixels);
  fs::remove(baseline);
}

TEST_CASE("imagefolder: classes are the sorted folders, files in torchvision's order", "[imagefolder]") {
  const std::string root = test_image_folder();
  const Dataset train = load_named_dataset("imagefolder", root, true, 0, 0, folder_options(20, 1));
  CHECK(train.name == "imagefolder-train");
  CHECK(train.channels == 3);
  CHECK(train.height == 20);
  CHECK(train.width == 20);
  CHECK(train.classes == kFolderClasses);
  CHECK(train.images.empty());
  REQUIRE(train.files);
  REQUIRE(train.size() == kFolderTrainImages);
  REQUIRE(train.files->paths.size() == size_t(kFolderTrainImages));
  CHECK(std::is_sorted(train.labels.begin(), train.labels.end()));
  // class1: its four generated images, then the extra files by name ("1_..." < "cmyk..." < "gray...").
  std::vector<std::string> class1;
  for (int64_t i = 0; i < train.size(); ++i)
    if (train.labels[i] == 1) class1.push_back(fs::path(train.files->paths[i]).filename().string());
  CHECK(class1 == std::vector<std::string>{"1_0.JPEG", "1_1.JPEG", "1_2.JPEG", "1_3.JPEG", "cmyk.jpeg", "gray.jpg",
                                           "progressive.JPG"});
  const Dataset val = load_named_dataset("imagefolder", root, false, 0, 0, folder_options(20, 1));
  CHECK(val.name == "imagefolder-val");
  CHECK(val.size() == kFolderValImages);
  CHECK(val.classes == kFolderClasses);
  // ImageNet's normalization: the pixels stay on disk.
  const Normalization n = channel_normalization(train);
  CHECK(n.mean == std::vector<float>{0.485f, 0.456f, 0.406f});
  CHECK(n.std == std::vector<float>{0.229f, 0.224f, 0.225f});
  CHECK(augmented_by_default("imagefolder"));
}

TEST_CASE("imagefolder: the loader's batches depend on (seed, epoch, index) only, not on threads or prefetch",
          "[imagefolder][loader]") {
  const std::string root = test_image_folder();
  const Dataset one = load_image_folder(root, true, folder_options(16, 1));
  const Dataset three = load_image_folder(root, true, folder_options(16, 3));
  for (bool augment : {true, false}) {
    INFO("augment " << augment);
    const std::vector<float> reference = epoch_values(one, augment, 7, false);
    CHECK(epoch_values(three, augment, 7, true) == reference);
    CHECK(epoch_values(three, augment, 7, false) == reference);
    // Another seed reorders (and with augmentation crops) differently.
    CHECK(epoch_values(one, augment, 8, false) != reference);
  }
  // A batch: 3 x 16 x 16 normalized images (ImageNet's mean and std), valid labels.
  DataLoader loader(three, 4, 1, true, true, true, channel_normalization(three));
  const Batch b = loader.next();
  CHECK(b.images.shape() == Shape{4, 3, 16, 16});
  for (float v : values(b.images)) CHECK((v >= (0 - 0.485f) / 0.229f - 1e-5f && v <= (1 - 0.406f) / 0.225f + 1e-5f));
  // Training crops differ from epoch to epoch; the evaluation transform does not.
  CHECK(values(loader.make_batch(0, 0).images) != values(loader.make_batch(1, 0).images));
}

TEST_CASE("imagefolder: random resized crops stay in the image, with torchvision's bounds and fallback",
          "[imagefolder][transforms]") {
  int flips = 0, full_width = 0;
  std::set<std::pair<int, int>> corners;
  for (int64_t position = 0; position < 2000; ++position) {
    const TrainCrop c = draw_train_crop(375, 500, 3, 0, position);
    REQUIRE(c.box.top >= 0);
    REQUIRE(c.box.left >= 0);
    REQUIRE(c.box.height > 0);
    REQUIRE(c.box.width > 0);
    REQUIRE(c.box.top + c.box.height <= 375);
    REQUIRE(c.box.left + c.box.width <= 500);
    const double area = double(c.box.height) * c.box.width / (375.0 * 500.0);
    const double ratio = double(c.box.width) / c.box.height;
    CHECK(area >= 0.07);
    CHECK(area <= 1.0);
    CHECK(ratio >= 0.7);
    CHECK(ratio <= 1.45);
    flips += c.flip;
    full_width += c.box.width == 500;
    corners.insert({c.box.top, c.box.left});
    // The same (seed, epoch, position): the same crop.
    const TrainCrop again = draw_train_crop(375, 500, 3, 0, position);
    CHECK((again.box.top == c.box.top && again.box.left == c.box.left && again.box.height == c.box.height &&
           again.box.width == c.box.width && again.flip == c.flip));
  }
  CHECK(flips > 900);
  CHECK(flips < 1100);
  CHECK(corners.size() > 1500);
  // A 1000x10 strip: no draw fits in 10 tries, so the centred box of ratio 4/3, 10 high.
  const TrainCrop strip = draw_train_crop(10, 1000, 3, 0, 5);
  CHECK(strip.box.height == 10);
  CHECK(strip.box.width == 13);
  CHECK(strip.box.top == 0);
  CHECK(strip.box.left == (1000 - 13) / 2);
  // Evaluation: 256 on the shorter side, the longer one truncated; the crop centred (halves to even).
  const EvalCrop e = eval_crop(375, 500, 224);
  CHECK(e.resized_height == 256);
  CHECK(e.resized_width == 341);
  CHECK(e.box.top == 16);
  CHECK(e.box.left == 58);
  CHECK(e.box.height == 224);
}

TEST_CASE("imagefolder: a corrupt or truncated image is an error naming the file, or left out with a count",
          "[imagefolder][errors]") {
  const std::string root = temp_dir("imagefolder_corrupt");
  SyntheticFolderSpec spec;
  spec.classes = 2;
  spec.train_per_class = 3;
  spec.val_per_class = 1;
  spec.height = spec.width = 24;
  write_synthetic_image_folder(root, spec);
  // Half a JPEG, and text named like one.
  const std::string truncated = root + "/train/class0/truncated.jpg", garbage = root + "/train/class1/garbage.jpeg";
  const std::string whole = read_all(root + "/train/class0/0_0.JPEG");
  std::ofstream(truncated, std::ios::binary) << whole.substr(0, whole.size() / 2);
  std::ofstream(garbage) << "not an image";
  CHECK_THROWS_WITH(read_jpeg(truncated), Catch::Contains(truncated) && Catch::Contains("Premature end"));
  CHECK_THROWS_WITH(read_jpeg(garbage), Catch::Contains(garbage) && Catch::Contains("Not a JPEG"));
  CHECK_THROWS_WITH(read_jpeg(root + "/missing.jpg"), Catch::Contains("missing.jpg") && Catch::Contains("cannot open"));

  // Without skip_corrupt the folder loads, and the batch holding a bad file fails, naming it.
  const Dataset strict = load_image_folder(root, true, folder_options(16, 2));
  CHECK(strict.size() == 8);
  DataLoader loader(strict, 8, 0, false, true, true, channel_normalization(strict), true);
  CHECK_THROWS_WITH(loader.next(), Catch::Contains(truncated) && Catch::Contains("Premature end"));

  ImageFolderOptions skipping = folder_options(16, 2);
  skipping.skip_corrupt = true;
  const Dataset kept = load_image_folder(root, true, skipping);
  CHECK(kept.size() == 6);
  CHECK(kept.files->skipped == 2);
  DataLoader fine(kept, 6, 0, true, true, true, channel_normalization(kept), false);
  CHECK(fine.next().images.shape() == Shape{6, 3, 16, 16});
}

TEST_CASE("imagefolder: a missing folder or mismatched classes are errors naming the folder", "[imagefolder][errors]") {
  CHECK_THROWS_WITH(validate_dataset_choice("imagefolder", ""), Catch::Contains("--data-dir"));
  const std::string root = temp_dir("imagefolder_bad");
  CHECK_THROWS_WITH(load_image_folder(root, true, {}), Catch::Contains(root + "/train"));
  SyntheticFolderSpec spec;
  spec.classes = 2;
  spec.height = spec.width = 8;
  write_synthetic_image_folder(root, spec);
  fs::create_directories(root + "/val/class2");
  CHECK_THROWS_WITH(load_image_folder(root, false, {}), Catch::Contains(root + "/val") && Catch::Contains("differ"));
  fs::create_directories(root + "/train/class2");
  CHECK_THROWS_WITH(load_image_folder(root, true, {}), Catch::Contains("class2") && Catch::Contains("no .jpg"));
}
