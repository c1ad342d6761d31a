#include "experiments/data/dataset.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "engine/error.h"
#include "engine/rng.h"
#include "experiments/data/image_folder.h"

namespace elr {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw UserError(fmt::format("{}: {}", path, what));
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

// True when the path exists, and also when stat fails for a reason other than "not there"
// (so that the reader, not this probe, reports e.g. a permission problem).
bool path_present(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 || errno != ENOENT;
}

// Checks that path names a readable, non-empty regular file before it is opened.
void check_regular_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail(path, fmt::format("cannot open: {}", std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) fail(path, "cannot read: it is a directory");
  if (st.st_size == 0) fail(path, "truncated: the file is empty");
}

// Reads a file through zlib: gzip when must_be_gzip, otherwise a plain (uncompressed) file.
// Every failure throws a UserError naming the file.
class ZlibReader {
 public:
  ZlibReader(std::string path, bool must_be_gzip) : path_(std::move(path)) {
    check_regular_file(path_);
    errno = 0;
    file_.reset(gzopen(path_.c_str(), "rb"));
    if (file_ == nullptr) fail(path_, fmt::format("cannot open: {}", errno ? std::strerror(errno) : "out of memory"));
    gzbuffer(file_.get(), 1 << 18);
    // gzdirect right after gzopen looks at the first bytes: 1 means "no gzip header".
    bool plain = gzdirect(file_.get()) == 1;
    check_status();
    if (must_be_gzip && plain) fail(path_, "not a gzip file (it does not start with the gzip signature 1f 8b)");
  }
  ZlibReader(const ZlibReader&) = delete;
  ZlibReader& operator=(const ZlibReader&) = delete;

  // Reads up to n bytes; returns fewer only when the data ends.
  size_t read(void* dst, size_t n) {
    auto* out = static_cast<uint8_t*>(dst);
    size_t done = 0;
    while (done < n) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, size_t{1} << 30));
      int got = gzread(file_.get(), out + done, chunk);
      if (got < 0) break;  // check_status reports why
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    check_status();
    return done;
  }

 private:
  void check_status() {
    int code = Z_OK;
    const char* msg = gzerror(file_.get(), &code);
    if (code == Z_OK) return;
    if (code == Z_BUF_ERROR) fail(path_, fmt::format("truncated gzip stream ({})", msg));
    if (code == Z_ERRNO) fail(path_, fmt::format("cannot read: {}", std::strerror(errno)));
    if (code == Z_DATA_ERROR) fail(path_, fmt::format("corrupt gzip data ({})", msg));
    fail(path_, fmt::format("cannot read ({})", msg));
  }

  struct Closer {
    void operator()(gzFile f) const { gzclose(f); }
  };
  std::string path_;
  std::unique_ptr<gzFile_s, Closer> file_;  // closed also when the constructor throws
};

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

// An IDX file of unsigned bytes: magic 0x000008<ndims>, ndims big-endian sizes, then the data.
IdxArray read_idx(const std::string& path, bool gzip, uint32_t expected_magic, const char* kind) {
  ZlibReader in(path, gzip);
  uint8_t head[4];
  if (in.read(head, 4) < 4) fail(path, "truncated: the file ends inside the IDX header");
  uint32_t magic = read_be32(head);
  if (magic != expected_magic)
    fail(path, fmt::format("wrong magic number: expected 0x{:08x} ({}), found 0x{:08x}", expected_magic, kind, magic));
  int ndims = static_cast<int>(expected_magic & 0xff);
  std::vector<uint8_t> raw_dims(4 * static_cast<size_t>(ndims));
  if (in.read(raw_dims.data(), raw_dims.size()) < raw_dims.size())
    fail(path, "truncated: the file ends inside the IDX header");
  IdxArray out;
  constexpr int64_t kMaxBytes = int64_t{1} << 36;
  int64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    const int64_t dim = read_be32(&raw_dims[4 * i]);
    out.dims.push_back(dim);
    // Checked before multiplying, so the product cannot overflow.
    if (dim > 0 && total > kMaxBytes / dim) fail(path, "wrong dimensions: the IDX header describes more than 64 GiB");
    total *= dim;
  }
  // Read in pieces: memory grows with the data actually present, not with what a (possibly
  // corrupt) header claims.
  size_t got = 0;
  while (got < static_cast<size_t>(total)) {
    const size_t want = std::min<size_t>(static_cast<size_t>(total) - got, size_t{1} << 24);
    out.data.resize(got + want);
    const size_t n = in.read(out.data.data() + got, want);
    got += n;
    if (n < want) break;
  }
  out.data.resize(got);
  if (got < static_cast<size_t>(total))
    fail(path, fmt::format("truncated: the header's dimensions {} need {} data bytes, the file holds {}",
                           dims_str(out.dims), total, got));
  uint8_t extra;
  if (in.read(&extra, 1) != 0)
    fail(path, fmt::format("wrong dimensions: the file holds more data than the header's {} describe",
                           dims_str(out.dims)));
  return out;
}

// dir/name.gz when present, else dir/name (uncompressed); *gzip says which.
std::string pick_idx_file(const std::string& dir, const std::string& name, bool* gzip) {
  std::string compressed = join_path(dir, name + ".gz"), plain = join_path(dir, name);
  if (path_present(compressed)) {
    *gzip = true;
    return compressed;
  }
  if (path_present(plain)) {
    *gzip = false;
    return plain;
  }
  fail(compressed, fmt::format("cannot open: no such file (nor an uncompressed {})", plain));
}

std::vector<uint8_t> read_whole_file(const std::string& path) {
  check_regular_file(path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fail(path, fmt::format("cannot open: {}", std::strerror(errno)));
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.insert(bytes.end(), buf, buf + got);
  bool error = std::ferror(f) != 0;
  int saved_errno = errno;
  std::fclose(f);
  if (error) fail(path, fmt::format("cannot read: {}", std::strerror(saved_errno)));
  return bytes;
}

constexpr int kCifarPixels = 3 * 32 * 32;

}  // namespace

std::string default_fashion_mnist_dir() {
  const char* env = std::getenv("ELR_FASHION_MNIST_DIR");
  if (env != nullptr && env[0] != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

Dataset load_fashion_mnist(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  bool images_gz = false, labels_gz = false;
  std::string images_path = pick_idx_file(dir, prefix + "-images-idx3-ubyte", &images_gz);
  IdxArray images = read_idx(images_path, images_gz, 0x00000803, "3-dimensional unsigned-byte images");
  if (images.dims[1] != 28 || images.dims[2] != 28)
    fail(images_path, fmt::format("wrong dimensions: expected N x 28 x 28 images, found {}", dims_str(images.dims)));
  if (images.dims[0] == 0) fail(images_path, "wrong dimensions: the file holds no images");
  std::string labels_path = pick_idx_file(dir, prefix + "-labels-idx1-ubyte", &labels_gz);
  IdxArray labels = read_idx(labels_path, labels_gz, 0x00000801, "1-dimensional unsigned-byte labels");
  if (labels.dims[0] != images.dims[0])
    fail(labels_path, fmt::format("image/label count mismatch: {} labels, but {} holds {} images", labels.dims[0],
                                  images_path, images.dims[0]));

  Dataset d;
  d.name = train ? "fashion-mnist-train" : "fashion-mnist-test";
  d.channels = 1;
  d.height = d.width = 28;
  d.classes = 10;
  d.labels.resize(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= d.classes)
      fail(labels_path, fmt::format("label {} at index {} is out of range 0..{}", labels.data[i], i, d.classes - 1));
    d.labels[i] = labels.data[i];
  }
  d.images = std::move(images.data);
  return d;
}

Dataset load_cifar(const std::string& dir, int variant, bool train) {
  if (variant != 10 && variant != 100)
    throw UserError(fmt::format("CIFAR variant must be 10 or 100, not {}", variant));
  std::vector<std::string> names;
  if (variant == 10) {
    if (train)
      for (int i = 1; i <= 5; ++i) names.push_back(fmt::format("data_batch_{}.bin", i));
    else
      names.push_back("test_batch.bin");
  } else {
    names.push_back(train ? "train.bin" : "test.bin");
  }
  // Accept both the folder holding the .bin files and the one the official archive unpacks into.
  std::string base = dir;
  std::string archive_dir = join_path(dir, variant == 10 ? "cifar-10-batches-bin" : "cifar-100-binary");
  if (!path_present(join_path(dir, names[0])) && path_present(join_path(archive_dir, names[0]))) base = archive_dir;

  const int label_bytes = variant == 10 ? 1 : 2;
  const size_t record = static_cast<size_t>(label_bytes + kCifarPixels);
  Dataset d;
  d.name = fmt::format("cifar{}-{}", variant, train ? "train" : "test");
  d.channels = 3;
  d.height = d.width = 32;
  d.classes = variant;
  for (const std::string& name : names) {
    std::string path = join_path(base, name);
    std::vector<uint8_t> bytes = read_whole_file(path);
    if (bytes.size() % record != 0)
      fail(path, fmt::format("truncated: {} bytes is not a whole number of {}-byte records ({} records and {} bytes "
                             "left over)",
                             bytes.size(), record, bytes.size() / record, bytes.size() % record));
    size_t count = bytes.size() / record;
    size_t first_image = d.images.size();
    d.images.resize(first_image + count * kCifarPixels);
    d.labels.reserve(d.labels.size() + count);
    for (size_t r = 0; r < count; ++r) {
      const uint8_t* rec = bytes.data() + r * record;
      if (variant == 100 && rec[0] >= 20)
        fail(path, fmt::format("coarse label {} of record {} is out of range 0..19", rec[0], r));
      int label = rec[label_bytes - 1];
      if (label >= d.classes)
        fail(path, fmt::format("label {} of record {} is out of range 0..{}", label, r, d.classes - 1));
      d.labels.push_back(label);
      // The record's pixels are already planar (1024 R, 1024 G, 1024 B), i.e. CHW.
      std::memcpy(d.images.data() + first_image + r * kCifarPixels, rec + label_bytes, kCifarPixels);
    }
  }
  return d;
}

Dataset make_synthetic(int64_t n, int channels, int height, int width, int classes, uint64_t seed) {
  if (n <= 0 || channels <= 0 || height <= 0 || width <= 0 || classes <= 0)
    throw UserError(fmt::format("synthetic data set: n, channels, height, width and classes must be positive, got "
                                "n={} shape={}x{}x{} classes={}",
                                n, channels, height, width, classes));
  Dataset d;
  d.name = "synthetic";
  d.channels = channels;
  d.height = height;
  d.width = width;
  d.classes = classes;
  const int64_t per_image = d.image_bytes();

  // One template per class: an oriented grating (orientation and frequency set by the class), a
  // per-channel colour offset and a fixed random texture, all in pixel units around 128.
  std::vector<float> templates(static_cast<size_t>(classes * per_image));
  const double kPi = 3.141592653589793;
  const double extent = std::max(height, width);
  auto signed_unit = [](uint32_t u) { return 2.0 * u32_to_unit_float(u) - 1.0; };
  for (int c = 0; c < classes; ++c) {
    double theta = kPi * c / classes, freq = 1.0 + c % 3;
    for (int ch = 0; ch < channels; ++ch) {
      double colour = signed_unit(philox_u32(seed, kStreamSynthetic + 1, static_cast<uint64_t>(c) * channels + ch));
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
          int64_t k = (static_cast<int64_t>(ch) * height + y) * width + x;
          double grating = std::cos(2 * kPi * freq * (x * std::cos(theta) + y * std::sin(theta)) / extent);
          double texture = signed_unit(philox_u32(seed, kStreamSynthetic, static_cast<uint64_t>(c * per_image + k)));
          templates[c * per_image + k] = static_cast<float>(128.0 + 50.0 * grating + 30.0 * colour + 25.0 * texture);
        }
    }
  }

  d.labels.resize(static_cast<size_t>(n));
  d.images.resize(static_cast<size_t>(n * per_image));
  for (int64_t i = 0; i < n; ++i) {
    int label = static_cast<int>(philox_u32(seed, kStreamSynthetic + 2, static_cast<uint64_t>(i)) % classes);
    d.labels[i] = label;
    const float* t = templates.data() + label * per_image;
    uint8_t* img = d.images.data() + i * per_image;
    for (int64_t k = 0; k < per_image; ++k) {
      float v = t[k] + 25.0f * philox_normal(seed, kStreamSynthetic + 3, static_cast<uint64_t>(i * per_image + k));
      img[k] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
    }
  }
  return d;
}

Normalization channel_normalization(const Dataset& data) {
  if (data.files) return imagenet_normalization();
  ELR_CHECK(data.size() > 0 && static_cast<int64_t>(data.images.size()) == data.size() * data.image_bytes(),
            "channel_normalization: data set '{}' has {} labels and {} pixel bytes for {}x{}x{} images", data.name,
            data.size(), data.images.size(), data.channels, data.height, data.width);
  const int64_t plane = static_cast<int64_t>(data.height) * data.width;
  // Integer sums are exact (255^2 * 2^40 fits in 64 bits); the moments are formed in double.
  std::vector<uint64_t> sum(data.channels, 0), sum_sq(data.channels, 0);
  for (int64_t i = 0; i < data.size(); ++i) {
    const uint8_t* img = data.image(i);
    for (int c = 0; c < data.channels; ++c) {
      uint64_t s = 0, sq = 0;
      for (int64_t k = 0; k < plane; ++k) {
        uint32_t v = img[c * plane + k];
        s += v;
        sq += v * v;
      }
      sum[c] += s;
      sum_sq[c] += sq;
    }
  }
  Normalization norm;
  const double count = static_cast<double>(data.size()) * plane;
  for (int c = 0; c < data.channels; ++c) {
    double mean = static_cast<double>(sum[c]) / count;
    double var = std::max(0.0, static_cast<double>(sum_sq[c]) / count - mean * mean);
    double std = std::sqrt(var) / 255.0;
    norm.mean.push_back(static_cast<float>(mean / 255.0));
    norm.std.push_back(static_cast<float>(std > 1e-12 ? std : 1.0));  // a constant channel is only centred
  }
  return norm;
}

void validate_dataset_choice(const std::string& dataset, const std::string& data_dir) {
  if (dataset != "fashion-mnist" && dataset != "cifar10" && dataset != "cifar100" && dataset != "synthetic" &&
      dataset != "imagefolder")
    throw UserError(fmt::format(
        "--dataset: unknown data set '{}' (expected fashion-mnist, cifar10, cifar100, synthetic or imagefolder)",
        dataset));
  if ((dataset == "cifar10" || dataset == "cifar100") && data_dir.empty())
    throw UserError(fmt::format("--data-dir: {} needs the folder holding its binary files", dataset));
  if (dataset == "imagefolder" && data_dir.empty())
    throw UserError("--data-dir: imagefolder needs the folder holding train/ and val/");
  struct stat st;
  if (!data_dir.empty() && ::stat(data_dir.c_str(), &st) != 0)
    throw UserError(fmt::format("--data-dir: folder '{}' does not exist", data_dir));
}

bool augmented_by_default(const std::string& dataset) {
  return dataset == "cifar10" || dataset == "cifar100" || dataset == "imagefolder";
}

Dataset load_named_dataset(const std::string& dataset, const std::string& data_dir, bool train,
                           int64_t synthetic_size, uint64_t synthetic_seed, const ImageFolderOptions& folder) {
  if (dataset == "imagefolder") return load_image_folder(data_dir, train, folder);
  if (dataset == "fashion-mnist") return load_fashion_mnist(data_dir.empty() ? default_fashion_mnist_dir() : data_dir, train);
  if (dataset == "cifar10") return load_cifar(data_dir, 10, train);
  if (dataset == "cifar100") return load_cifar(data_dir, 100, train);
  const int64_t n_test = std::max<int64_t>(synthetic_size / 4, 1);
  Dataset all = make_synthetic(train ? synthetic_size : synthetic_size + n_test, 1, 16, 16, 10, synthetic_seed);
  if (train) {
    all.name = "synthetic-train";
    return all;
  }
  all.name = "synthetic-test";
  all.images.erase(all.images.begin(), all.images.begin() + synthetic_size * all.image_bytes());
  all.labels.erase(all.labels.begin(), all.labels.begin() + synthetic_size);
  return all;
}

}  // namespace elr
