#include "experiments/data/jpeg.h"

#include <fmt/format.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "engine/error.h"

namespace elr {

namespace {

// A decoded image larger than this many pixels is taken for a corrupt header (ImageNet's largest
// image has about 10^7).
constexpr int64_t kMaxPixels = int64_t(1) << 28;

// libjpeg reports errors through a callback that must not return: it jumps back to the setjmp in
// the function that called libjpeg, with the message kept here.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings (level -1) are recoverable damage, ignored as PIL does, except running out of data:
// libjpeg would fill the rest of the image with grey, PIL refuses a truncated file.
void on_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

void use_error_manager(ErrorManager& err, jpeg_common_struct* cinfo) {
  cinfo->err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.message[0] = '\0';
}

// PIL's CMYK to RGB: JPEG's CMYK is Adobe's inverted CMYK; with c = 255 - C and k = 255 - K,
// r = (255 - k) - c (255 - k) / 255, rounded as PIL's MULDIV255.
inline uint8_t cmyk_channel(int inverted_c, int inverted_k) {
  const int c = 255 - inverted_c, nk = inverted_k;
  const int t = c * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// The decode itself, free of objects with destructors after setjmp (longjmp would skip them).
// Returns false with err.message set on failure.
bool decode(const uint8_t* data, size_t size, RgbImage& image, std::vector<uint8_t>& cmyk_row, ErrorManager& err) {
  jpeg_decompress_struct cinfo;
  use_error_manager(err, reinterpret_cast<jpeg_common_struct*>(&cinfo));
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  image.height = static_cast<int>(cinfo.output_height);
  image.width = static_cast<int>(cinfo.output_width);
  if (int64_t(image.height) * image.width > kMaxPixels) {
    std::snprintf(err.message, sizeof err.message, "%dx%d pixels is too large for an image", image.width,
                  image.height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  const size_t row_bytes = size_t(image.width) * 3;
  image.pixels.resize(row_bytes * image.height);
  if (cmyk) cmyk_row.resize(size_t(image.width) * 4);
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t* out = image.pixels.data() + row_bytes * cinfo.output_scanline;
    JSAMPROW row = cmyk ? cmyk_row.data() : out;
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (!cmyk) continue;
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = cmyk_row.data() + 4 * x;
      for (int ch = 0; ch < 3; ++ch) out[3 * x + ch] = cmyk_channel(p[ch], p[3]);
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

bool encode(const uint8_t* pixels, int height, int width, int channels, const JpegWriteOptions& o,
            unsigned char*& out, unsigned long& out_size, ErrorManager& err) {
  jpeg_compress_struct cinfo;
  use_error_manager(err, reinterpret_cast<jpeg_common_struct*>(&cinfo));
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &out, &out_size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, o.quality, TRUE);
  if (o.progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  const size_t row_bytes = size_t(width) * channels;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels + row_bytes * cinfo.next_scanline);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

RgbImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  RgbImage image;
  std::vector<uint8_t> cmyk_row;
  ErrorManager err;
  if (!decode(data, size, image, cmyk_row, err)) throw UserError(fmt::format("{}: {}", name, err.message));
  return image;
}

RgbImage read_jpeg(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(fmt::format("{}: cannot open the file", path));
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw UserError(fmt::format("{}: read error", path));
  return decode_jpeg(bytes.data(), bytes.size(), path);
}

void write_jpeg(const std::string& path, const uint8_t* pixels, int height, int width, int channels,
                const JpegWriteOptions& options) {
  ELR_CHECK(height > 0 && width > 0 && (channels == 1 || channels == 3 || channels == 4),
            "write_jpeg: '{}': bad image {}x{}x{}", path, height, width, channels);
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  ErrorManager err;
  const bool ok = encode(pixels, height, width, channels, options, out, out_size, err);
  std::string bytes;
  if (ok) bytes.assign(reinterpret_cast<const char*>(out), out_size);
  std::free(out);  // jpeg_mem_dest's buffer
  if (!ok) throw Error(fmt::format("write_jpeg: '{}': {}", path, err.message));
  std::ofstream file(path, std::ios::binary);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!file.flush()) throw UserError(fmt::format("cannot write '{}'", path));
}

}  // namespace elr
