// JPEG files through libjpeg-turbo: decoding to 8-bit RGB as PIL's Image.open(f).convert("RGB")
// does (grayscale replicated, CMYK converted by PIL's formula), and writing (tests, benchmarks).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace elr {

struct RgbImage {
  int height = 0, width = 0;
  std::vector<uint8_t> pixels;  // height x width x 3, row after row
};

// The image in `data` (a whole JPEG file). Throws UserError "<name>: <what is wrong>" when it is
// not a JPEG, is corrupt or truncated (libjpeg's warnings about recoverable damage are ignored,
// as PIL ignores them; a truncated file is an error, as in PIL).
RgbImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name);
// The same from a file; an unreadable file is an error naming it.
RgbImage read_jpeg(const std::string& path);

struct JpegWriteOptions {
  int quality = 90;
  bool progressive = false;
};
// Writes height x width x channels pixels: 1 grayscale, 3 RGB, 4 CMYK (stored as given, which
// readers take as Adobe's inverted CMYK: (r, g, b, 255) reads back as r, g, b).
void write_jpeg(const std::string& path, const uint8_t* pixels, int height, int width, int channels,
                const JpegWriteOptions& options = {});

}  // namespace elr
