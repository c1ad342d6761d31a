// The report's colours, each defined once: the colours that tell the runs of a comparison apart,
// and the palettes of the colour scales, so that a gnuplot palette and the text written on it agree.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace elr {

struct Rgb {
  double r = 0, g = 0, b = 0;  // 0..1
};

// Colour stops at positions 0..1, '#rrggbb'; gnuplot interpolates linearly in RGB between them.
struct Palette {
  std::vector<std::pair<double, std::string>> stops;
};

extern const Palette kDepthPalette;   // blue, green, orange: a layer's depth index
extern const Palette kSpreadPalette;  // light yellow to dark red: spread heat maps
extern const Palette kElrPalette;     // dark violet to yellow (viridis): the layer x step ELR picture

// "set palette defined (...)\n".
std::string gnuplot_palette(const Palette& p);
// The palette's colour at t (clamped to 0..1).
Rgb palette_color(const Palette& p, double t);
// Black or white, whichever contrasts more with `background` (WCAG relative luminance), as the
// 0xRRGGBB number gnuplot's `textcolor rgb variable` reads.
int text_color_on(const Rgb& background);

// The colour of the i-th run (or depth) of a comparison: '#rrggbb' and its name, cycling after 8.
const char* series_color(size_t i);
const char* series_color_name(size_t i);

}  // namespace elr
