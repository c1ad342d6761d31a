// The report's plots: gnuplot, run as an external program, renders each plot to SVG and PNG from
// small data files written next to them.
#pragma once
#include <string>
#include <vector>

namespace elr {

struct PlotSpec {
  std::string name;     // file stem: <name>.svg, <name>.png
  std::string title;
  std::string xlabel;   // with units, e.g. "step"
  std::string ylabel;   // with units, e.g. "ELR (rad/step)"
  std::string body;     // gnuplot commands after the terminal, labels and title are set (ends with a plot command)
  std::string caption;  // one or two sentences for the report: what the plot shows and what to look for
};

// The gnuplot executable found on PATH, or "" when there is none.
std::string find_gnuplot();
// How to get gnuplot, for messages.
const char* gnuplot_install_hint();

// Writes `dir`/plots.gp and runs gnuplot in `dir`; its messages go to `dir`/gnuplot.log. Throws
// naming the log when gnuplot fails.
void render_plots(const std::string& gnuplot, const std::string& dir, const std::vector<PlotSpec>& plots);

// A string as a gnuplot single-quoted literal.
std::string gnuplot_quote(const std::string& s);

}  // namespace elr
