// `elrscope report DIR...`: plots and a self-contained report (report.md, and report.html with the
// SVG plots inline) of a run, of several runs side by side, of a sweep, or of explode's
// measurements (docs/sweep-and-report.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace elr {

enum class ReportKind { Run, Comparison, Sweep, Explode };
const char* report_kind_name(ReportKind k);  // run | comparison | sweep | explode

struct ReportConfig {
  // One run folder (elrscope train), several run folders (compared), one sweep folder, or one or
  // more explode --out folders.
  std::vector<std::string> dirs;
  std::string out;           // report folder; empty: DIR/report for one folder (required for several)
  int64_t sweep_step = 10;   // sweeps: the step whose spread the heat maps and the scatter show
  int64_t first_steps = 10;  // runs: the summaries' "first N steps"
  bool plots = true;         // false: tables only, no gnuplot needed
  bool png = false;          // also <plot>.png, and report.md links them instead of the SVGs
};

struct ReportResult {
  std::string report_dir;
  ReportKind kind = ReportKind::Run;
  std::vector<std::string> plots;    // names of the rendered plots (<name>.svg, <name>.png)
  std::vector<std::string> skipped;  // plots left out, with the reason
};

// Throws UserError when a folder is none of the kinds (or the folders mix kinds), and (unless
// plots is false) when gnuplot is not on PATH: the message names gnuplot and how to install it.
ReportResult write_report(const ReportConfig& c);

}  // namespace elr
