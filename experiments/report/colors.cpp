#include "experiments/report/colors.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace elr {

const Palette kDepthPalette = {{{0, "#1b3a8c"}, {0.5, "#2ca25f"}, {1, "#e6550d"}}};
const Palette kSpreadPalette = {{{0, "#fff7bc"}, {0.5, "#fc8d59"}, {1, "#7f0000"}}};
const Palette kElrPalette = {{{0, "#440154"}, {0.25, "#3b528b"}, {0.5, "#21908d"}, {0.75, "#5dc963"}, {1, "#fde725"}}};

namespace {

Rgb parse_hex(const std::string& hex) {
  const long v = std::strtol(hex.c_str() + 1, nullptr, 16);
  return {((v >> 16) & 255) / 255.0, ((v >> 8) & 255) / 255.0, (v & 255) / 255.0};
}

double linear_channel(double c) { return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); }

struct NamedColor {
  const char* hex;
  const char* name;
};
constexpr NamedColor kSeries[] = {{"#1b3a8c", "blue"},   {"#e6550d", "orange"}, {"#2ca25f", "green"},
                                  {"#756bb1", "purple"}, {"#d62728", "red"},    {"#8c564b", "brown"},
                                  {"#17becf", "cyan"},   {"#7f7f7f", "grey"}};
constexpr size_t kSeriesCount = sizeof(kSeries) / sizeof(kSeries[0]);

}  // namespace

std::string gnuplot_palette(const Palette& p) {
  std::string s;
  for (const auto& [at, hex] : p.stops) s += fmt::format("{}{} '{}'", s.empty() ? "" : ", ", at, hex);
  return "set palette defined (" + s + ")\n";
}

Rgb palette_color(const Palette& p, double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
  for (size_t i = 1; i < p.stops.size(); ++i) {
    if (t > p.stops[i].first) continue;
    const double a = p.stops[i - 1].first, b = p.stops[i].first;
    const double f = b > a ? (t - a) / (b - a) : 0.0;
    const Rgb lo = parse_hex(p.stops[i - 1].second), hi = parse_hex(p.stops[i].second);
    return {lo.r + f * (hi.r - lo.r), lo.g + f * (hi.g - lo.g), lo.b + f * (hi.b - lo.b)};
  }
  return parse_hex(p.stops.back().second);
}

int text_color_on(const Rgb& background) {
  const double luminance = 0.2126 * linear_channel(background.r) + 0.7152 * linear_channel(background.g) +
                           0.0722 * linear_channel(background.b);
  const double on_white = 1.05 / (luminance + 0.05), on_black = (luminance + 0.05) / 0.05;
  return on_white > on_black ? 0xffffff : 0x000000;
}

const char* series_color(size_t i) { return kSeries[i % kSeriesCount].hex; }
const char* series_color_name(size_t i) { return kSeries[i % kSeriesCount].name; }

}  // namespace elr
