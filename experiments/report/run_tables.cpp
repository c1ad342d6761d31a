#include "experiments/report/run_tables.h"

#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

namespace elr {

namespace {

const char* const kMainSettings[] = {"model_description", "dataset",      "batch",    "total_steps",  "lr",
                                     "momentum",          "weight_decay", "schedule", "warmup_steps", "lr_control",
                                     "target_elr",        "seed",         "device",   "git_revision"};

// Keys of config.json that are not settings to compare: the run's own folder, and the parameter
// list (the model's description says the same).
bool is_comparable_setting(const std::string& key) { return key != "out" && key != "parameters"; }

std::string config_text(const RunData& run, const std::string& key) {
  return run.config.contains(key) ? json_text(run.config[key]) : "(absent)";
}

std::string accuracy_text(double v, const char* missing) { return std::isnan(v) ? missing : number_text(v); }

}  // namespace

std::string number_text(double v) { return std::isnan(v) ? "" : fmt::format("{:.6g}", v); }

std::string json_text(const nlohmann::json& j) {
  if (j.is_null()) return "";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_boolean()) return j.get<bool>() ? "yes" : "no";
  if (j.is_number_float()) return number_text(j.get<double>());
  return j.dump();
}

TableRows run_settings_table(const RunData& run) {
  TableRows rows = {{"setting", "value"}};
  for (const char* k : kMainSettings)
    if (run.config.contains(k)) rows.push_back({k, json_text(run.config[k])});
  rows.push_back({"scale-invariant layers", std::to_string(run.layers.size())});
  return rows;
}

TableRows differing_settings_table(const std::vector<RunData>& runs) {
  std::set<std::string> keys;
  for (const RunData& r : runs)
    for (const auto& item : r.config.items()) keys.insert(item.key());
  TableRows rows = {{"setting"}};
  for (const RunData& r : runs) rows[0].push_back(r.label);
  for (const std::string& k : keys) {
    if (!is_comparable_setting(k)) continue;
    std::vector<std::string> row = {k};
    for (const RunData& r : runs) row.push_back(config_text(r, k));
    if (std::set<std::string>(row.begin() + 1, row.end()).size() > 1) rows.push_back(row);
  }
  return rows;
}

TableRows shared_settings_table(const std::vector<RunData>& runs) {
  TableRows rows = {{"setting", "value"}};
  for (const char* k : kMainSettings) {
    std::set<std::string> values;
    for (const RunData& r : runs) values.insert(config_text(r, k));
    if (values.size() == 1 && *values.begin() != "(absent)") rows.push_back({k, *values.begin()});
  }
  return rows;
}

TableRows run_summary_table(const std::vector<RunData>& runs, int64_t first_steps) {
  TableRows rows = {{"quantity"}};
  if (runs.size() == 1)
    rows[0].push_back("value");
  else
    for (const RunData& r : runs) rows[0].push_back(r.label);
  auto add = [&](const std::string& quantity, auto&& value_of) {
    std::vector<std::string> row = {quantity};
    for (const RunData& r : runs) row.push_back(value_of(r));
    rows.push_back(row);
  };
  std::map<const RunData*, SpreadSummary> spreads;
  for (const RunData& r : runs) spreads[&r] = summarize_run_spread(r.metrics, first_steps, kSpreadThreshold);
  auto spread = [&](const RunData& r) { return spreads.at(&r); };
  const size_t late = 10;

  add("steps taken (planned)", [](const RunData& r) {
    if (!r.summary) return std::string("not finished (no summary.json)");
    return fmt::format("{} ({})", r.summary->steps, r.summary->total_steps);
  });
  add("final loss", [](const RunData& r) { return r.summary ? number_text(r.summary->final_loss) : ""; });
  add("test accuracy", [](const RunData& r) {
    return r.summary ? accuracy_text(r.summary->test_accuracy, "not evaluated") : std::string();
  });
  add("batch accuracy, mean over the run",
      [](const RunData& r) { return r.summary ? number_text(r.summary->train_accuracy) : std::string(); });
  add(fmt::format("batch accuracy, mean over the last {} logged steps", late),
      [&](const RunData& r) { return number_text(late_batch_accuracy(r.metrics, late)); });
  add("diverged", [](const RunData& r) {
    if (!r.summary) return std::string();
    return r.summary->diverged ? "yes: " + r.summary->divergence : std::string("no");
  });
  add("spread at step 0", [&](const RunData& r) { return number_text(spread(r).step0); });
  add("spread at the last logged step", [&](const RunData& r) {
    return r.metrics.empty() ? std::string() : fmt::format("{} (step {})", number_text(spread(r).last), r.last_step());
  });
  add(fmt::format("log10 spread, mean over steps 0-{}", first_steps - 1),
      [&](const RunData& r) { return number_text(spread(r).mean_log10_first); });
  add(fmt::format("log10 spread, max over steps 0-{}", first_steps - 1),
      [&](const RunData& r) { return number_text(spread(r).max_log10_first); });
  add("log10 spread, mean over the run", [&](const RunData& r) { return number_text(spread(r).mean_log10_run); });
  add("log10 spread, max over the run", [&](const RunData& r) { return number_text(spread(r).max_log10_run); });
  add(fmt::format("first logged step with spread < {}", kSpreadThreshold), [&](const RunData& r) {
    const int64_t s = spread(r).first_below;
    return s < 0 ? std::string("never") : std::to_string(s);
  });
  add("seconds", [](const RunData& r) { return r.summary ? number_text(r.summary->seconds) : ""; });
  return rows;
}

}  // namespace elr
