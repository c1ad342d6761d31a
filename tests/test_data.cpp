// Data sets and the batch loader: the readers on small files written here (exact round trips and
// every kind of bad input), the real Fashion-MNIST, normalization, order, seek, prefetch, augment.
#include <catch2/catch.hpp>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "engine/error.h"
#include "experiments/data/data_loader.h"
#include "experiments/data/dataset.h"

using namespace elr;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "elr-data-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

void put_be32(Bytes& b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
}

Bytes idx_images(uint32_t n, uint32_t rows, uint32_t cols, const Bytes& pixels, uint32_t magic = 0x803) {
  Bytes b;
  put_be32(b, magic);
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  b.insert(b.end(), pixels.begin(), pixels.end());
  return b;
}

Bytes idx_labels(const Bytes& labels, uint32_t magic = 0x801) {
  Bytes b;
  put_be32(b, magic);
  put_be32(b, static_cast<uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

void write_plain(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void write_gzip(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

Bytes read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// n images of 28x28 with pixels that differ per image and per position, labels 0..9 cycling.
struct SmallIdx {
  uint32_t n = 5;
  Bytes pixels, labels;
  SmallIdx() {
    for (uint32_t i = 0; i < n * 784; ++i) pixels.push_back(static_cast<uint8_t>((i * 7 + i / 784 * 31) % 256));
    for (uint32_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>((i * 3) % 10));
  }
};

void write_fashion(const TempDir& dir, const std::string& prefix, const Bytes& images, const Bytes& labels,
                   bool gzip = true) {
  std::string img = dir / (prefix + "-images-idx3-ubyte"), lab = dir / (prefix + "-labels-idx1-ubyte");
  if (gzip) {
    write_gzip(img + ".gz", images);
    write_gzip(lab + ".gz", labels);
  } else {
    write_plain(img, images);
    write_plain(lab, labels);
  }
}

Bytes cifar_record(int label_bytes, uint8_t coarse, uint8_t label, uint8_t seed) {
  Bytes r;
  if (label_bytes == 2) r.push_back(coarse);
  r.push_back(label);
  for (int k = 0; k < 3072; ++k) r.push_back(static_cast<uint8_t>(seed * 17 + k * 5 + k / 1024));
  return r;
}

Bytes concat(const std::vector<Bytes>& parts) {
  Bytes all;
  for (const Bytes& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

// Normalization that leaves pixels as x / 255, so batch values are easy to predict.
Normalization identity_norm(int channels) { return {std::vector<float>(channels, 0.0f), std::vector<float>(channels, 1.0f)}; }

bool same_batch(const Batch& a, const Batch& b) {
  return a.epoch == b.epoch && a.index_in_epoch == b.index_in_epoch && a.images.shape() == b.images.shape() &&
         a.labels.shape() == b.labels.shape() &&
         std::memcmp(a.images.raw(), b.images.raw(), a.images.bytes()) == 0 &&
         std::memcmp(a.labels.raw(), b.labels.raw(), a.labels.bytes()) == 0;
}

}  // namespace

TEST_CASE("data: Fashion-MNIST IDX files, gzip and plain, read back exactly", "[data]") {
  SmallIdx s;
  for (bool gzip : {true, false}) {
    TempDir dir;
    write_fashion(dir, "train", idx_images(s.n, 28, 28, s.pixels), idx_labels(s.labels), gzip);
    Dataset d = load_fashion_mnist(dir.path, true);
    CHECK(d.size() == 5);
    CHECK(d.channels == 1);
    CHECK(d.height == 28);
    CHECK(d.width == 28);
    CHECK(d.classes == 10);
    CHECK(d.name == "fashion-mnist-train");
    CHECK(d.images == s.pixels);
    CHECK(d.labels == std::vector<int32_t>(s.labels.begin(), s.labels.end()));
    CHECK_THROWS_WITH(load_fashion_mnist(dir.path, false), Catch::Contains("t10k-images-idx3-ubyte"));
  }
  SECTION("the test split, with images compressed and labels plain, and a trailing slash") {
    TempDir dir;
    write_gzip(dir / "t10k-images-idx3-ubyte.gz", idx_images(s.n, 28, 28, s.pixels));
    write_plain(dir / "t10k-labels-idx1-ubyte", idx_labels(s.labels));
    Dataset d = load_fashion_mnist(dir.path + "/", false);
    CHECK(d.name == "fashion-mnist-test");
    CHECK(d.images == s.pixels);
    CHECK(d.labels[1] == 3);
  }
}

TEST_CASE("data: every bad IDX input is a one-line error naming the file", "[data]") {
  SmallIdx s;
  TempDir dir;
  const std::string images = dir / "train-images-idx3-ubyte.gz", labels = dir / "train-labels-idx1-ubyte.gz";
  const Bytes good_images = idx_images(s.n, 28, 28, s.pixels), good_labels = idx_labels(s.labels);
  auto load = [&] { return load_fashion_mnist(dir.path, true); };

  SECTION("missing") {
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("no such file"));
    write_gzip(images, good_images);
    CHECK_THROWS_WITH(load(), Catch::Contains(labels) && Catch::Contains("no such file"));
  }
  SECTION("unreadable: a directory where the file should be") {
    fs::create_directory(images);
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("is a directory"));
  }
  SECTION("empty") {
    write_plain(images, {});
    write_gzip(labels, good_labels);
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("truncated: the file is empty"));
  }
  SECTION("not gzip") {
    write_plain(images, good_images);
    write_gzip(labels, good_labels);
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("not a gzip file"));
  }
  SECTION("corrupt gzip: the CRC in the trailer does not match") {
    write_gzip(images, good_images);
    write_gzip(labels, good_labels);
    Bytes gz = read_plain(images);
    gz[gz.size() - 8] ^= 0xff;
    write_plain(images, gz);
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("corrupt gzip data"));
  }
  SECTION("corrupt gzip: garbage in the compressed stream") {
    write_gzip(images, good_images);
    write_gzip(labels, good_labels);
    Bytes gz = read_plain(images);
    for (size_t i = 10; i < gz.size() - 8; ++i) gz[i] = 0xff;  // an invalid deflate block type
    write_plain(images, gz);
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("corrupt gzip data"));
  }
  SECTION("truncated gzip stream") {
    write_gzip(images, good_images);
    write_gzip(labels, good_labels);
    Bytes gz = read_plain(images);
    gz.resize(gz.size() / 2);
    write_plain(images, gz);
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("truncated gzip stream"));
  }
  SECTION("truncated data, gzip and plain") {
    Bytes short_images = good_images;
    short_images.resize(short_images.size() - 784);
    write_gzip(images, short_images);
    write_gzip(labels, good_labels);
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("truncated") &&
                                  Catch::Contains("need 3920 data bytes, the file holds 3136"));
    fs::remove(images);
    write_plain(dir / "train-images-idx3-ubyte", short_images);
    CHECK_THROWS_WITH(load(), Catch::Contains(dir / "train-images-idx3-ubyte") && Catch::Contains("truncated"));
    write_plain(dir / "train-images-idx3-ubyte", Bytes(good_images.begin(), good_images.begin() + 10));
    CHECK_THROWS_WITH(load(), Catch::Contains("truncated: the file ends inside the IDX header"));
  }
  SECTION("wrong magic number") {
    write_gzip(images, idx_labels(s.labels));  // a label file under the image file's name
    write_gzip(labels, good_labels);
    CHECK_THROWS_WITH(load(), Catch::Contains(images) &&
                                  Catch::Contains("wrong magic number: expected 0x00000803") &&
                                  Catch::Contains("found 0x00000801"));
    write_gzip(images, good_images);
    write_gzip(labels, idx_labels(s.labels, 0x00000803));
    CHECK_THROWS_WITH(load(), Catch::Contains(labels) && Catch::Contains("expected 0x00000801") &&
                                  Catch::Contains("found 0x00000803"));
  }
  SECTION("wrong dimensions") {
    write_gzip(images, idx_images(1, 32, 32, Bytes(32 * 32, 7)));
    write_gzip(labels, idx_labels({1}));
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("wrong dimensions") &&
                                  Catch::Contains("found 1 x 32 x 32"));
    Bytes longer = good_images;
    longer.insert(longer.end(), 784, 0);
    write_gzip(images, longer);
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("holds more data than the header"));
    write_gzip(images, idx_images(0, 28, 28, {}));
    CHECK_THROWS_WITH(load(), Catch::Contains(images) && Catch::Contains("no images"));
  }
  SECTION("image/label count mismatch") {
    write_gzip(images, good_images);
    write_gzip(labels, idx_labels(Bytes(s.labels.begin(), s.labels.end() - 1)));
    CHECK_THROWS_WITH(load(), Catch::Contains(labels) && Catch::Contains("image/label count mismatch") &&
                                  Catch::Contains("4 labels") && Catch::Contains("holds 5 images"));
  }
  SECTION("label out of range") {
    Bytes bad = s.labels;
    bad[3] = 10;
    write_gzip(images, good_images);
    write_gzip(labels, idx_labels(bad));
    CHECK_THROWS_WITH(load(), Catch::Contains(labels) && Catch::Contains("label 10 at index 3 is out of range 0..9"));
  }
}

TEST_CASE("data: CIFAR-10 and CIFAR-100 binary files read back exactly", "[data]") {
  SECTION("CIFAR-10: five training batches in order, and the test batch") {
    TempDir dir;
    const int counts[5] = {2, 3, 1, 1, 2};
    std::vector<int32_t> want_labels;
    Bytes want_pixels;
    uint8_t serial = 0;
    for (int b = 0; b < 5; ++b) {
      std::vector<Bytes> records;
      for (int r = 0; r < counts[b]; ++r, ++serial) {
        records.push_back(cifar_record(1, 0, static_cast<uint8_t>(serial % 10), serial));
        want_labels.push_back(serial % 10);
        want_pixels.insert(want_pixels.end(), records.back().begin() + 1, records.back().end());
      }
      write_plain(dir / ("data_batch_" + std::to_string(b + 1) + ".bin"), concat(records));
    }
    write_plain(dir / "test_batch.bin", concat({cifar_record(1, 0, 9, 200), cifar_record(1, 0, 0, 201)}));
    Dataset train = load_cifar(dir.path, 10, true);
    CHECK(train.name == "cifar10-train");
    CHECK(train.size() == 9);
    CHECK(train.channels == 3);
    CHECK(train.height == 32);
    CHECK(train.width == 32);
    CHECK(train.classes == 10);
    CHECK(train.labels == want_labels);
    CHECK(train.images == want_pixels);
    // Record layout is planar: red plane first, so pixel (c=1, y=0, x=0) is byte 1 + 1024.
    CHECK(train.image(3)[1024] == cifar_record(1, 0, 3, 3)[1 + 1024]);
    Dataset test = load_cifar(dir.path, 10, false);
    CHECK(test.size() == 2);
    CHECK(test.labels == std::vector<int32_t>{9, 0});
    const Bytes last = cifar_record(1, 0, 0, 201);
    CHECK(Bytes(test.image(1), test.image(1) + 3072) == Bytes(last.begin() + 1, last.end()));
  }
  SECTION("CIFAR-100: the fine label is used; the archive's folder is found") {
    TempDir dir;
    fs::create_directory(dir / "cifar-100-binary");
    write_plain(dir / "cifar-100-binary/train.bin",
                concat({cifar_record(2, 19, 99, 1), cifar_record(2, 0, 42, 2), cifar_record(2, 7, 0, 3)}));
    Dataset d = load_cifar(dir.path, 100, true);
    CHECK(d.name == "cifar100-train");
    CHECK(d.classes == 100);
    CHECK(d.labels == std::vector<int32_t>{99, 42, 0});
    Bytes rec = cifar_record(2, 0, 42, 2);
    CHECK(Bytes(d.image(1), d.image(1) + 3072) == Bytes(rec.begin() + 2, rec.end()));
  }
}

TEST_CASE("data: every bad CIFAR input is a one-line error naming the file", "[data]") {
  TempDir dir;
  Bytes two = concat({cifar_record(1, 0, 1, 1), cifar_record(1, 0, 2, 2)});
  SECTION("missing batch") {
    for (int b : {1, 2, 4, 5}) write_plain(dir / ("data_batch_" + std::to_string(b) + ".bin"), two);
    CHECK_THROWS_WITH(load_cifar(dir.path, 10, true),
                      Catch::Contains(dir / "data_batch_3.bin") && Catch::Contains("cannot open"));
    CHECK_THROWS_WITH(load_cifar(dir.path, 100, false), Catch::Contains(dir / "test.bin"));
  }
  SECTION("truncated: not a whole number of records") {
    Bytes cut = two;
    cut.pop_back();
    write_plain(dir / "test_batch.bin", cut);
    CHECK_THROWS_WITH(load_cifar(dir.path, 10, false),
                      Catch::Contains(dir / "test_batch.bin") && Catch::Contains("truncated") &&
                          Catch::Contains("not a whole number of 3073-byte records (1 records and 3072 bytes left over)"));
    write_plain(dir / "test.bin", two);  // CIFAR-10 records read as CIFAR-100 ones (3074 bytes)
    CHECK_THROWS_WITH(load_cifar(dir.path, 100, false),
                      Catch::Contains(dir / "test.bin") && Catch::Contains("3074-byte records"));
    write_plain(dir / "test_batch.bin", {});
    CHECK_THROWS_WITH(load_cifar(dir.path, 10, false), Catch::Contains("truncated: the file is empty"));
  }
  SECTION("label out of range") {
    write_plain(dir / "test_batch.bin", concat({cifar_record(1, 0, 1, 1), cifar_record(1, 0, 10, 2)}));
    CHECK_THROWS_WITH(load_cifar(dir.path, 10, false),
                      Catch::Contains(dir / "test_batch.bin") && Catch::Contains("label 10 of record 1 is out of range 0..9"));
    write_plain(dir / "test.bin", concat({cifar_record(2, 3, 100, 1)}));
    CHECK_THROWS_WITH(load_cifar(dir.path, 100, false),
                      Catch::Contains(dir / "test.bin") && Catch::Contains("label 100 of record 0 is out of range 0..99"));
    write_plain(dir / "test.bin", concat({cifar_record(2, 20, 5, 1)}));
    CHECK_THROWS_WITH(load_cifar(dir.path, 100, false), Catch::Contains("coarse label 20 of record 0"));
  }
  SECTION("unknown variant") {
    CHECK_THROWS_WITH(load_cifar(dir.path, 20, true), Catch::Contains("CIFAR variant must be 10 or 100, not 20"));
  }
}

TEST_CASE("data: the real Fashion-MNIST", "[data]") {
  const char* saved = std::getenv("ELR_FASHION_MNIST_DIR");
  std::string saved_value = saved ? saved : "";
  setenv("ELR_FASHION_MNIST_DIR", "/some/where", 1);
  CHECK(default_fashion_mnist_dir() == "/some/where");
  unsetenv("ELR_FASHION_MNIST_DIR");
  CHECK(default_fashion_mnist_dir() == "/usr/share/datasets/fashion-mnist");
  if (saved) setenv("ELR_FASHION_MNIST_DIR", saved_value.c_str(), 1);

  const std::string dir = default_fashion_mnist_dir();
  if (!fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST is not installed in " << dir << " (Debian package dataset-fashion-mnist); skipped");
    return;
  }
  Dataset train = load_fashion_mnist(dir, true);
  Dataset test = load_fashion_mnist(dir, false);
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  for (const Dataset* d : {&train, &test}) {
    CHECK(d->channels == 1);
    CHECK(d->height == 28);
    CHECK(d->width == 28);
    CHECK(d->images.size() == static_cast<size_t>(d->size()) * 784);
    // The published splits are balanced: 6000 / 1000 images of each of the 10 classes.
    std::vector<int64_t> per_class(10, 0);
    for (int32_t l : d->labels) {
      REQUIRE(l >= 0);
      REQUIRE(l <= 9);
      ++per_class[l];
    }
    for (int64_t c : per_class) CHECK(c == d->size() / 10);
  }
  // Plain sum over the raw bytes, independent of channel_normalization.
  double sum = 0;
  for (uint8_t v : train.images) sum += v;
  CHECK(sum / 255.0 / static_cast<double>(train.images.size()) == Approx(0.2860).margin(0.001));
  Normalization norm = channel_normalization(train);
  REQUIRE(norm.mean.size() == 1);
  CHECK(norm.mean[0] == Approx(0.2860).margin(0.001));
  CHECK(norm.std[0] == Approx(0.3530).margin(0.001));

  DataLoader loader(train, 128, 1, true, false, false, norm);
  CHECK(loader.batches_per_epoch() == 469);
  Batch b = loader.next();
  CHECK(b.images.shape() == Shape{128, 1, 28, 28});
  std::vector<float> x = b.images.to_vector();
  double batch_mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
  CHECK(std::abs(batch_mean) < 0.1);  // normalized: near zero mean
}

TEST_CASE("data: the synthetic set is deterministic, extendable and learnable", "[data]") {
  Dataset a = make_synthetic(600, 3, 8, 8, 5, 7);
  Dataset b = make_synthetic(600, 3, 8, 8, 5, 7);
  Dataset other = make_synthetic(600, 3, 8, 8, 5, 8);
  Dataset prefix = make_synthetic(100, 3, 8, 8, 5, 7);
  CHECK(a.size() == 600);
  CHECK(a.images.size() == 600u * 3 * 8 * 8);
  CHECK(a.images == b.images);
  CHECK(a.labels == b.labels);
  CHECK(a.images != other.images);
  CHECK(Bytes(a.images.begin(), a.images.begin() + prefix.images.size()) == prefix.images);
  std::vector<int> per_class(5, 0);
  for (int32_t l : a.labels) {
    REQUIRE(l >= 0);
    REQUIRE(l < 5);
    ++per_class[l];
  }
  for (int c : per_class) CHECK(c > 60);
  // Nearest class mean fitted on the first 400 images classifies the other 200.
  const int64_t dim = a.image_bytes();
  std::vector<double> centroid(5 * dim, 0.0);
  std::vector<int> count(5, 0);
  for (int64_t i = 0; i < 400; ++i) {
    ++count[a.labels[i]];
    for (int64_t k = 0; k < dim; ++k) centroid[a.labels[i] * dim + k] += a.image(i)[k];
  }
  for (int c = 0; c < 5; ++c)
    for (int64_t k = 0; k < dim; ++k) centroid[c * dim + k] /= count[c];
  int correct = 0;
  for (int64_t i = 400; i < 600; ++i) {
    int best = -1;
    double best_d = 1e300;
    for (int c = 0; c < 5; ++c) {
      double d = 0;
      for (int64_t k = 0; k < dim; ++k) d += std::pow(a.image(i)[k] - centroid[c * dim + k], 2);
      if (d < best_d) best_d = d, best = c;
    }
    correct += best == a.labels[i];
  }
  CHECK(correct >= 190);
  CHECK_THROWS_WITH(make_synthetic(0, 1, 2, 2, 2, 0), Catch::Contains("must be positive"));
}

TEST_CASE("data: per-channel normalization from the pixels", "[data]") {
  Dataset d;
  d.name = "tiny";
  d.channels = 2;
  d.height = 1;
  d.width = 2;
  d.classes = 2;
  // Image 0: channel 0 = {0, 255}, channel 1 = {51, 51}; image 1: channel 0 = {255, 255}, channel 1 = {51, 51}.
  d.images = {0, 255, 51, 51, 255, 255, 51, 51};
  d.labels = {0, 1};
  Normalization n = channel_normalization(d);
  CHECK(n.mean[0] == Approx(0.75));
  CHECK(n.std[0] == Approx(std::sqrt(0.75 * 0.25)));
  CHECK(n.mean[1] == Approx(0.2));
  CHECK(n.std[1] == 1.0f);  // a constant channel is only centred

  DataLoader loader(d, 2, 0, false, false, false, n, false);
  Batch b = loader.next();
  std::vector<float> x = b.images.to_vector();
  float s = std::sqrt(0.75f * 0.25f);
  CHECK(x[0] == Approx((0.0f - 0.75f) / s));
  CHECK(x[1] == Approx((1.0f - 0.75f) / s));
  CHECK(x[2] == Approx(0.0f).margin(1e-6));
}

TEST_CASE("data: the epoch order is a seeded permutation", "[data]") {
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  std::vector<int64_t> e0 = epoch_order(1000, 5, 0, true);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == identity);
  CHECK(e0 != identity);
  CHECK(epoch_order(1000, 5, 0, true) == e0);
  CHECK(epoch_order(1000, 6, 0, true) != e0);
  CHECK(epoch_order(1000, 5, 1, true) != e0);
  CHECK(epoch_order(1000, 5, 3, false) == identity);
  // Uniform enough: each sample lands in the first half about half the time over many epochs.
  int first_half = 0;
  for (int epoch = 0; epoch < 400; ++epoch) {
    std::vector<int64_t> o = epoch_order(10, 5, epoch, true);
    first_half += std::find(o.begin(), o.end(), 0) - o.begin() < 5;
  }
  CHECK(first_half > 150);
  CHECK(first_half < 250);
}

TEST_CASE("data: batches follow the order, cover the epoch and roll over", "[data]") {
  Dataset d = make_synthetic(103, 2, 4, 4, 3, 11);
  Normalization norm = identity_norm(2);
  for (bool drop_last : {false, true}) {
    DataLoader loader(d, 10, 9, true, false, drop_last, norm);
    CHECK(loader.batches_per_epoch() == (drop_last ? 10 : 11));
    std::vector<int64_t> order = epoch_order(103, 9, 0, true);
    for (int64_t i = 0; i < loader.batches_per_epoch(); ++i) {
      Batch b = loader.next();
      CHECK(b.epoch == 0);
      CHECK(b.index_in_epoch == i);
      const int64_t rows = (!drop_last && i == 10) ? 3 : 10;
      REQUIRE(b.images.shape() == Shape{rows, 2, 4, 4});
      REQUIRE(b.labels.shape() == Shape{rows});
      for (int64_t j = 0; j < rows; ++j) {
        int64_t sample = order[i * 10 + j];
        CHECK(b.labels.labels()[j] == d.labels[sample]);
        for (int k = 0; k < 32; ++k) REQUIRE(b.images.data()[j * 32 + k] == static_cast<float>(d.image(sample)[k]) / 255.0f);
      }
    }
    CHECK(loader.next_epoch() == 1);
    CHECK(loader.next_index() == 0);
    Batch b = loader.next();
    CHECK(b.epoch == 1);
    CHECK(b.index_in_epoch == 0);
    CHECK(b.labels.labels()[0] == d.labels[epoch_order(103, 9, 1, true)[0]]);
  }
  CHECK_THROWS_WITH(DataLoader(d, 0, 0, true, false, false, norm), Catch::Contains("batch size must be positive"));
  CHECK_THROWS_WITH(DataLoader(d, 200, 0, true, false, true, norm),
                    Catch::Contains("103 samples, fewer than one batch of 200"));
  CHECK_THROWS_WITH(DataLoader(d, 10, 0, true, false, false, identity_norm(1)),
                    Catch::Contains("2 channels, but the normalization has 1 means"));
}

TEST_CASE("data: seek and prefetch reproduce the same batches", "[data]") {
  Dataset d = make_synthetic(57, 3, 6, 6, 4, 2);
  Normalization norm = channel_normalization(d);
  DataLoader straight(d, 8, 21, true, true, false, norm);
  DataLoader inline_loader(d, 8, 21, true, true, false, norm, false);
  REQUIRE(straight.batches_per_epoch() == 8);
  std::vector<Batch> reference;
  for (int i = 0; i < 30; ++i) {
    reference.push_back(straight.next());
    REQUIRE(same_batch(reference.back(), inline_loader.next()));
  }
  CHECK(reference[8].epoch == 1);
  CHECK(!same_batch(reference[0], reference[8]));

  DataLoader resumed(d, 8, 21, true, true, false, norm);
  resumed.next();  // the worker has already run ahead; seek must discard what it made
  resumed.seek(1, 5);
  CHECK(resumed.next_epoch() == 1);
  CHECK(resumed.next_index() == 5);
  for (int i = 13; i < 30; ++i) REQUIRE(same_batch(resumed.next(), reference[i]));
  resumed.seek(0, 0);
  CHECK(same_batch(resumed.next(), reference[0]));
  CHECK(same_batch(resumed.make_batch(2, 3), reference[19]));
  CHECK_THROWS_WITH(resumed.seek(0, 8), Catch::Contains("cannot seek to batch 8 of epoch 0: there are 8 batches"));

  DataLoader other_seed(d, 8, 22, true, true, false, norm, false);
  CHECK(!same_batch(other_seed.next(), reference[0]));
}

TEST_CASE("data: crop with zero padding and flip on a known image", "[data]") {
  // One channel, 2 x 3: [[1, 2, 3], [4, 5, 6]], padding 1.
  const Bytes src = {1, 2, 3, 4, 5, 6};
  Bytes out(6);
  crop_flip_image(src.data(), 1, 2, 3, 1, CropFlip{1, 1, false}, out.data());
  CHECK(out == src);  // the centred window is the image
  crop_flip_image(src.data(), 1, 2, 3, 1, CropFlip{0, 2, false}, out.data());
  CHECK(out == Bytes{0, 0, 0, 2, 3, 0});  // window moved up and right
  crop_flip_image(src.data(), 1, 2, 3, 1, CropFlip{0, 2, true}, out.data());
  CHECK(out == Bytes{0, 0, 0, 0, 3, 2});  // the same crop, mirrored
  crop_flip_image(src.data(), 1, 2, 3, 1, CropFlip{2, 0, false}, out.data());
  CHECK(out == Bytes{0, 4, 5, 0, 0, 0});
  crop_flip_image(src.data(), 1, 2, 3, 1, CropFlip{1, 1, true}, out.data());
  CHECK(out == Bytes{3, 2, 1, 6, 5, 4});
  // Two channels are cropped alike.
  const Bytes two = {1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16};
  Bytes out2(12);
  crop_flip_image(two.data(), 2, 2, 3, 1, CropFlip{2, 1, true}, out2.data());
  CHECK(out2 == Bytes{6, 5, 4, 0, 0, 0, 16, 15, 14, 0, 0, 0});

  // The draws cover every offset in [0, 8] and flip about half the time.
  std::vector<int> seen_dy(9, 0), seen_dx(9, 0);
  int flips = 0;
  for (int64_t p = 0; p < 4000; ++p) {
    CropFlip cf = draw_crop_flip(3, 0, p);
    REQUIRE(cf.dy >= 0);
    REQUIRE(cf.dy <= 8);
    REQUIRE(cf.dx >= 0);
    REQUIRE(cf.dx <= 8);
    ++seen_dy[cf.dy];
    ++seen_dx[cf.dx];
    flips += cf.flip;
  }
  for (int v = 0; v < 9; ++v) {
    CHECK(seen_dy[v] > 300);
    CHECK(seen_dx[v] > 300);
  }
  CHECK(flips > 1800);
  CHECK(flips < 2200);
}

TEST_CASE("data: augmented batches keep their shape and crop each image by its position's draw", "[data]") {
  Dataset d = make_synthetic(20, 3, 32, 32, 10, 4);
  DataLoader loader(d, 6, 13, true, true, false, identity_norm(3));
  Batch b0 = loader.next(), b1 = loader.next();
  CHECK(b1.images.shape() == Shape{6, 3, 32, 32});
  std::vector<int64_t> order = epoch_order(20, 13, 0, true);
  int changed = 0;
  for (int64_t j = 0; j < 6; ++j) {
    const int64_t position = 6 + j;  // batch 1, row j
    CropFlip cf = draw_crop_flip(13, 0, position);
    Bytes expect(3 * 32 * 32);
    crop_flip_image(d.image(order[position]), 3, 32, 32, 4, cf, expect.data());
    for (int64_t k = 0; k < 3 * 32 * 32; ++k)
      REQUIRE(b1.images.data()[j * 3072 + k] == static_cast<float>(expect[k]) / 255.0f);
    changed += cf.dy != 4 || cf.dx != 4 || cf.flip;
  }
  CHECK(changed > 0);
  CHECK(b0.labels.labels()[0] == d.labels[order[0]]);
}

TEST_CASE("data: an error on the prefetch thread is thrown by next()", "[data]") {
  Dataset d = make_synthetic(16, 1, 2, 2, 10, 1);
  d.labels[7] = 12;  // a malformed data set: found only when batch 1 is built
  for (bool prefetch : {true, false}) {
    DataLoader loader(d, 4, 0, false, false, false, identity_norm(1), prefetch);
    CHECK(loader.next().index_in_epoch == 0);
    CHECK_THROWS_WITH(loader.next(), Catch::Contains("data set 'synthetic': sample 7 has label 12, outside 0..9"));
    CHECK_THROWS_WITH(loader.next(), Catch::Contains("sample 7 has label 12"));
    loader.seek(0, 2);
    CHECK(loader.next().index_in_epoch == 2);
  }
  // Destroying a loader whose queue is full and whose worker is blocked must not hang.
  Dataset ok = make_synthetic(64, 1, 2, 2, 3, 1);
  { DataLoader idle(ok, 4, 0, true, true, false, identity_norm(1)); }
}
