// Registration of `elrscope report`.
#include <cstdio>
#include <memory>

#include "experiments/cli/commands.h"
#include "experiments/report/report.h"

namespace elr {

Command register_report_command(CLI::App& parent) {
  auto cfg = std::make_shared<ReportConfig>();
  CLI::App* app = parent.add_subcommand(
      "report", "plots and a self-contained report (report.md, report.html) of a run, of several runs compared, of a "
                "sweep, or of explode's measurements");
  app->add_option("DIR", cfg->dirs,
                  "a run directory (elrscope train --out), several run directories (compared side by side), a "
                  "sweep directory (elrscope sweep --out), or one or more explode --out directories")
      ->required();
  app->add_option("--out", cfg->out, "folder for the report (default DIR/report; required with several folders)");
  app->add_option("--step", cfg->sweep_step, "sweeps: the step whose spread the heatmaps and the scatter show")
      ->capture_default_str();
  app->add_option("--first-steps", cfg->first_steps,
                  "runs: the summary's early spread statistics cover the logged steps below this")
      ->capture_default_str();
  app->add_flag("--png", cfg->png, "also render every plot as PNG; report.md then shows the PNGs instead of the SVGs");
  app->add_flag("!--no-plots", cfg->plots, "tables only; does not need gnuplot");
  app->footer(
      "Needs gnuplot on PATH for the plots (Debian/Ubuntu: apt-get install gnuplot-nox); without it the command\n"
      "stops with a message unless --no-plots is given.\n"
      "Outputs: report.html (SVG plots inline, no other files needed), report.md (links the plots),\n"
      "<plot>.svg (and .png with --png), <plot>.dat (the plotted numbers) and plots.gp (re-renders them).");
  return {app, [cfg] {
            const ReportResult r = write_report(*cfg);
            std::printf("report (%s): %s/report.html and report.md (%zu plots%s)\n", report_kind_name(r.kind),
                        r.report_dir.c_str(), r.plots.size(), cfg->plots ? "" : ", --no-plots");
            for (const std::string& s : r.skipped) std::printf("not plotted: %s\n", s.c_str());
            return 0;
          }};
}

}  // namespace elr
