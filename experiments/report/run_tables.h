// The tables of the run and comparison pages: settings, and the summary of each run (how it ended,
// its accuracies, its ELR spread early and over the run).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/report/document.h"
#include "experiments/report/run_data.h"

namespace elr {

// Spread below this counts as "equalized" in the summaries.
constexpr double kSpreadThreshold = 2.0;

// The main settings of config.json: setting | value.
TableRows run_settings_table(const RunData& run);
// Settings whose values differ between the runs (the folder aside): setting | one column per run.
// Only a header row when none differs.
TableRows differing_settings_table(const std::vector<RunData>& runs);
// Settings the runs share, of the main ones: setting | value.
TableRows shared_settings_table(const std::vector<RunData>& runs);
// quantity | one column per run (header: "value" for a single run, else the runs' labels).
TableRows run_summary_table(const std::vector<RunData>& runs, int64_t first_steps);

// A number for a table: 6 significant digits; empty when NaN.
std::string number_text(double v);
// A config.json value for a table.
std::string json_text(const nlohmann::json& j);

}  // namespace elr
