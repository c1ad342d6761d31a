#include "experiments/report/report.h"

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/report/document.h"
#include "experiments/report/plot.h"
#include "experiments/report/report_pages.h"
#include "experiments/report/run_data.h"

namespace elr {

namespace {

ReportKind kind_of(const std::string& dir) {
  if (path_exists(dir + "/sweep.json")) return ReportKind::Sweep;
  if (is_run_dir(dir)) return ReportKind::Run;
  if (is_explode_dir(dir)) return ReportKind::Explode;
  throw UserError(
      fmt::format("report: '{}' is neither a run directory (config.json, metrics.jsonl, layers.csv), a sweep directory "
                  "(sweep.json) nor an explode --out directory (explode_layers.csv, explode_summary.csv)",
                  dir));
}

// Run folders of a comparison are named by their folder name, or by the path given when two
// names are the same.
std::vector<RunData> load_runs(const std::vector<std::string>& dirs) {
  std::vector<RunData> runs;
  for (const std::string& d : dirs) runs.push_back(load_run(d));
  for (size_t i = 0; i < runs.size(); ++i)
    for (size_t j = i + 1; j < runs.size(); ++j)
      if (runs[i].label == runs[j].label) {
        for (RunData& r : runs) r.label = r.dir;
        return runs;
      }
  return runs;
}

std::string title_of(ReportKind kind, const std::vector<std::string>& dirs) {
  std::string names;
  for (const std::string& d : dirs) names += (names.empty() ? "" : ", ") + d;
  switch (kind) {
    case ReportKind::Run:
      return "elrscope run report: " + names;
    case ReportKind::Comparison:
      return "elrscope comparison: " + names;
    case ReportKind::Sweep:
      return "elrscope sweep report: " + names;
    case ReportKind::Explode:
      return "elrscope explode report: " + names;
  }
  return names;
}

}  // namespace

const char* report_kind_name(ReportKind k) {
  switch (k) {
    case ReportKind::Run:
      return "run";
    case ReportKind::Comparison:
      return "comparison";
    case ReportKind::Sweep:
      return "sweep";
    case ReportKind::Explode:
      return "explode";
  }
  return "?";
}

ReportResult write_report(const ReportConfig& c) {
  if (c.dirs.empty()) throw UserError("report: give a folder");
  if (c.first_steps < 1) throw UserError(fmt::format("--first-steps: must be at least 1, got {}", c.first_steps));
  ReportResult result;
  result.kind = kind_of(c.dirs[0]);
  for (const std::string& d : c.dirs)
    if (kind_of(d) != result.kind)
      throw UserError(
          fmt::format("report: '{}' is a {} folder but '{}' is a {} folder; several folders are compared "
                      "only when all are run folders or all are explode folders",
                      c.dirs[0], report_kind_name(result.kind), d, report_kind_name(kind_of(d))));
  if (c.dirs.size() > 1) {
    if (result.kind == ReportKind::Sweep) throw UserError("report: give one sweep folder at a time");
    if (result.kind == ReportKind::Run) result.kind = ReportKind::Comparison;
    if (c.out.empty())
      throw UserError(fmt::format("report: {} folders: give --out, the folder for their report", c.dirs.size()));
  }
  std::string gnuplot;
  if (c.plots) {
    gnuplot = find_gnuplot();
    if (gnuplot.empty())
      throw UserError(
          fmt::format("report: gnuplot not found on PATH; the plots need it ({}), or pass --no-plots "
                      "for a report with tables only",
                      gnuplot_install_hint()));
  }
  // Every run folder is read before anything is written, so a bad folder leaves no report behind.
  std::vector<RunData> runs;
  if (result.kind == ReportKind::Run || result.kind == ReportKind::Comparison) runs = load_runs(c.dirs);
  result.report_dir = c.out.empty() ? c.dirs[0] + "/report" : c.out;
  make_directories(result.report_dir);

  Page page;
  page.out = result.report_dir;
  page.plots = c.plots;
  page.doc.title = title_of(result.kind, c.dirs);
  switch (result.kind) {
    case ReportKind::Run:
      run_page(runs[0], c.first_steps, page);
      break;
    case ReportKind::Comparison:
      comparison_page(runs, c.first_steps, page);
      break;
    case ReportKind::Sweep:
      sweep_page(c.dirs[0], c.sweep_step, page);
      break;
    case ReportKind::Explode:
      explode_page(c.dirs, page);
      break;
  }

  if (!page.specs.empty()) render_plots(gnuplot, result.report_dir, page.specs, c.png);
  page.doc.heading("Plots");
  if (!c.plots) page.doc.paragraph("Written with --no-plots: no plots.");
  for (const PlotSpec& p : page.specs) {
    page.doc.plot(p.name, p.title, p.caption);
    result.plots.push_back(p.name);
  }
  for (const std::string& s : page.skipped) page.doc.paragraph("Not plotted: " + s + ".");
  if (c.plots)
    page.doc.paragraph(
        "Plot data: the .dat files next to the plots; plots.gp re-renders them (gnuplot plots.gp). Column "
        "definitions: docs/outputs.md, docs/sweep-and-report.md and docs/explode-and-ode.md.");
  result.skipped = page.skipped;

  write_file_atomic(result.report_dir + "/report.md", render_markdown(page.doc, c.png ? "png" : "svg"));
  write_file_atomic(result.report_dir + "/report.html", render_html(page.doc, result.report_dir));
  return result;
}

}  // namespace elr
