// The kinds of report page: a run, a comparison of runs, a sweep, and explode's measurements. Each
// fills a Page with its tables and plots, writing the plots' data files into the report folder;
// report.cpp renders the plots and the page.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/report/document.h"
#include "experiments/report/plot.h"
#include "experiments/report/run_data.h"

namespace elr {

struct Page {
  std::string out;    // the report folder
  bool plots = true;  // false: tables only
  Document doc;
  std::vector<PlotSpec> specs;       // in page order
  std::vector<std::string> skipped;  // plots left out, with the reason

  // Adds the plot (`spec.body` followed by the plot command of `parts`) when it has something to
  // draw, else records why not.
  void add_plot(PlotSpec spec, const std::vector<PlotParts>& parts, const std::string& why_empty) {
    for (const PlotParts& p : parts)
      if (!p.empty()) {
        spec.body += plot_command(parts);
        specs.push_back(std::move(spec));
        return;
      }
    skipped.push_back(spec.name + ": " + why_empty);
  }
};

// `first_steps`: the summaries' "first N steps".
void run_page(const RunData& run, int64_t first_steps, Page& page);
void comparison_page(const std::vector<RunData>& runs, int64_t first_steps, Page& page);
// `step`: the step whose spread the heat maps and the scatter show.
void sweep_page(const std::string& dir, int64_t step, Page& page);

bool is_explode_dir(const std::string& dir);  // explode_layers.csv and explode_summary.csv
// One or several explode folders (e.g. one per model), each labelled by its folder name.
void explode_page(const std::vector<std::string>& dirs, Page& page);

}  // namespace elr
