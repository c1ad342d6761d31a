// `elrscope report DIR`: plots and a self-contained report (DIR/report/report.md with PNGs,
// report.html with the SVGs inline) for a run directory or a sweep directory
// (docs/sweep-and-report.md).
#pragma once
#include <string>
#include <vector>

namespace elr {

struct ReportConfig {
  std::string dir;             // a run directory (summary.json / layers.csv) or a sweep directory (sweep.json)
  int64_t sweep_step = 10;     // sweeps: the step whose spread the heatmap and scatter show
  bool plots = true;           // false: tables only, no gnuplot needed
};

struct ReportResult {
  std::string report_dir;      // DIR/report
  bool is_sweep = false;
  std::vector<std::string> plots;    // names of the rendered plots (<name>.svg, <name>.png)
  std::vector<std::string> skipped;  // plots left out, with the reason
};

// Throws UserError when DIR is neither kind of directory, and (unless plots is false) when gnuplot
// is not on PATH: the message names gnuplot and how to install it.
ReportResult write_report(const ReportConfig& c);

}  // namespace elr
