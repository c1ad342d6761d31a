// The report's plots: gnuplot, run as an external program, renders each plot to SVG (and to PNG on
// request) from small data files written next to them.
#pragma once
#include <string>
#include <vector>

namespace elr {

struct PlotSpec {
  std::string name;     // file stem: <name>.svg, <name>.png, <name>.dat
  std::string title;
  std::string xlabel;   // with units, e.g. "step"
  std::string ylabel;   // with units, e.g. "ELR (rad/step)"
  std::string body;     // gnuplot commands after the terminal, labels and title are set (ends with a plot command)
  std::string caption;  // one or two sentences for the report: what the plot shows and what to look for
};

// What a plot draws from one data file: the settings it needs, and its clauses of gnuplot's plot
// command (comma-separated, without "plot"); both empty when there is nothing to draw.
struct PlotParts {
  std::string setup, clauses;
  bool empty() const { return clauses.empty(); }
};
// "setup plot a, b" for the parts that are not empty.
std::string plot_command(const std::vector<PlotParts>& parts);

// The gnuplot executable found on PATH, or "" when there is none.
std::string find_gnuplot();
// How to get gnuplot, for messages.
const char* gnuplot_install_hint();

// Writes `dir`/plots.gp and runs gnuplot in `dir`: <name>.svg for every plot, and <name>.png when
// `png`; its messages go to `dir`/gnuplot.log. Throws naming the log when gnuplot fails.
void render_plots(const std::string& gnuplot, const std::string& dir, const std::vector<PlotSpec>& plots, bool png);

// A string as a gnuplot single-quoted literal.
std::string gnuplot_quote(const std::string& s);

}  // namespace elr
