// Registration of `elrscope report`.
#include <cstdio>
#include <memory>

#include "experiments/cli/commands.h"
#include "experiments/report/report.h"

namespace elr {

Command register_report_command(CLI::App& parent) {
  auto cfg = std::make_shared<ReportConfig>();
  CLI::App* app = parent.add_subcommand(
      "report", "plots and a self-contained report (DIR/report/report.md, report.html) of a run or sweep directory");
  app->add_option("DIR", cfg->dir, "a run directory (elrscope train --out) or a sweep directory (elrscope sweep --out)")
      ->required();
  app->add_option("--step", cfg->sweep_step, "sweeps: the step whose spread the heatmaps and the scatter show")
      ->capture_default_str();
  app->add_flag("!--no-plots", cfg->plots, "tables only; does not need gnuplot");
  app->footer(
      "Needs gnuplot on PATH for the plots (Debian/Ubuntu: apt-get install gnuplot-nox); without it the command\n"
      "stops with a message unless --no-plots is given.\n"
      "Outputs: DIR/report/report.md (PNG plots), report.html (SVG plots inline, no other files needed),\n"
      "<plot>.svg, <plot>.png, <plot>.dat (the plotted numbers) and plots.gp (re-renders them).");
  return {app, [cfg] {
            const ReportResult r = write_report(*cfg);
            std::printf("report: %s/report.html and report.md (%zu plots%s)\n", r.report_dir.c_str(), r.plots.size(),
                        cfg->plots ? "" : ", --no-plots");
            for (const std::string& s : r.skipped) std::printf("not plotted: %s\n", s.c_str());
            return 0;
          }};
}

}  // namespace elr
