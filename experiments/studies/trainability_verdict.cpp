// The trainability study's verdict: the paper's claim checked against the groups' numbers by one
// stated rule (Welch's 95% interval of each difference of means over seeds).
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "engine/files.h"
#include "experiments/studies/trainability.h"

namespace elr {

namespace {

enum class Sign { Above, Below, Unclear, Missing };

// Where the interval of a difference lies relative to 0.
Sign sign_of(const Interval& d) {
  if (d.n < 2 || std::isnan(d.low)) return Sign::Missing;
  if (d.low > 0) return Sign::Above;
  if (d.high < 0) return Sign::Below;
  return Sign::Unclear;
}

std::string interval_text(const Interval& d) {
  if (d.n == 0) return "no runs";
  if (std::isnan(d.low)) return fmt::format("{:+.3g} (too few runs for an interval)", d.mean);
  return fmt::format("{:+.3g} [{:+.3g}, {:+.3g}]", d.mean, d.low, d.high);
}

// "higher" / "lower" / "no clear difference" for a difference of (first - second).
std::string comparison_word(Sign s) {
  switch (s) {
    case Sign::Above: return "higher";
    case Sign::Below: return "lower";
    case Sign::Unclear: return "no clear difference";
    case Sign::Missing: return "not enough finished runs";
  }
  return "?";
}

const TrainabilityGroup* find_group(const std::vector<TrainabilityGroup>& groups, const std::string& model,
                                    int64_t depth, double lr, const std::string& warmup) {
  for (const TrainabilityGroup& g : groups)
    if (g.model == model && g.depth == depth && g.lr == lr && g.warmup == warmup) return &g;
  return nullptr;
}

Interval spread_difference(const TrainabilityGroup* a, const TrainabilityGroup* b) {
  return a && b ? difference_interval(a->early_log10_spread, b->early_log10_spread) : Interval{};
}

Interval accuracy_difference(const TrainabilityGroup* a, const TrainabilityGroup* b) {
  return a && b ? difference_interval(a->test_accuracy, b->test_accuracy) : Interval{};
}

struct Tally {
  int settings = 0, spread_higher = 0, accuracy_lower = 0, both = 0;
};

}  // namespace

std::string trainability_verdict(const std::vector<TrainabilityGroup>& groups, const TrainabilityGrid& grid,
                                 int64_t early_steps, int64_t finished, int64_t total) {
  const std::string short_net = "resnet", no_short = "resnet-noshort", none = "none";
  std::string out = "# Verdict\n\n";
  out += fmt::format("From {} of {} runs.\n\n", finished, total);
  out += fmt::format(
      "Rule: two settings are compared by the difference of their means over seeds and its Welch 95% interval "
      "(t quantile at the Welch-Satterthwaite degrees of freedom). A difference counts only when its interval "
      "excludes 0 (\"higher\", \"lower\"); otherwise it is \"no clear difference\". The early spread is the "
      "mean of log10(max ELR / min ELR) over steps 0-{} (column mean_log10_spread_first_{} of table.csv); "
      "accuracy is the test accuracy at the end of the run (a diverged run has none and is left out).\n\n",
      early_steps - 1, early_steps);
  out +=
      "Claim 1: without warm-up, No Short (resnet-noshort) has a higher early spread and a lower accuracy than "
      "Short (resnet). It holds for a depth and lr when both differences count.\n\n"
      "Claim 2: a warm-up closes the gap. For No Short, the warm-up's accuracy gain over no warm-up counts, and "
      "the remaining gap (Short with the warm-up minus No Short with it) does not: \"closes the gap\". When the "
      "gain counts but the remaining gap does too: \"narrows the gap\". Without a gain: \"does not close the "
      "gap\". The change of No Short's early spread is given beside it.\n";

  if (std::find(grid.models.begin(), grid.models.end(), short_net) == grid.models.end() ||
      std::find(grid.models.begin(), grid.models.end(), no_short) == grid.models.end() ||
      std::find(grid.warmups.begin(), grid.warmups.end(), none) == grid.warmups.end())
    return out + "\nThe grid needs both models and the warm-up `none` for a verdict.\n";

  Tally tally;
  std::map<std::string, std::map<std::string, int>> warmup_outcomes;  // warm-up -> outcome -> settings
  for (int64_t depth : grid.depths)
    for (double lr : grid.lrs) {
      out += fmt::format("\n## Depth {}, lr {}\n\n", depth, format_double(lr));
      const TrainabilityGroup* s0 = find_group(groups, short_net, depth, lr, none);
      const TrainabilityGroup* n0 = find_group(groups, no_short, depth, lr, none);
      const Interval ds = spread_difference(n0, s0), da = accuracy_difference(n0, s0);
      const Sign spread_sign = sign_of(ds), accuracy_sign = sign_of(da);
      out += fmt::format("- Early log10 spread, No Short - Short, no warm-up: {}: {}.\n", interval_text(ds),
                         comparison_word(spread_sign));
      out += fmt::format("- Test accuracy, No Short - Short, no warm-up: {}: {}.\n", interval_text(da),
                         comparison_word(accuracy_sign));
      const bool holds = spread_sign == Sign::Above && accuracy_sign == Sign::Below;
      out += fmt::format("- Claim 1: {}.\n", holds ? "holds"
                                                   : spread_sign == Sign::Missing || accuracy_sign == Sign::Missing
                                                         ? "not decided (too few finished runs)"
                                                         : "does not hold");
      if (spread_sign != Sign::Missing && accuracy_sign != Sign::Missing) {
        ++tally.settings;
        tally.spread_higher += spread_sign == Sign::Above;
        tally.accuracy_lower += accuracy_sign == Sign::Below;
        tally.both += holds;
      }
      for (const std::string& w : grid.warmups) {
        if (w == none) continue;
        const TrainabilityGroup* nw = find_group(groups, no_short, depth, lr, w);
        const TrainabilityGroup* sw = find_group(groups, short_net, depth, lr, w);
        const Interval gain = accuracy_difference(nw, n0), gap = accuracy_difference(sw, nw);
        const Interval spread_change = spread_difference(nw, n0);
        const Sign gain_sign = sign_of(gain), gap_sign = sign_of(gap);
        std::string outcome;
        if (gain_sign == Sign::Missing || gap_sign == Sign::Missing)
          outcome = "not decided (too few finished runs)";
        else if (gain_sign != Sign::Above)
          outcome = "does not close the gap";
        else
          outcome = gap_sign == Sign::Above ? "narrows the gap" : "closes the gap";
        if (accuracy_sign != Sign::Below && outcome != "not decided (too few finished runs)")
          outcome += " (there was no clear gap without warm-up)";
        out += fmt::format(
            "- Warm-up {}: No Short's accuracy gain over no warm-up {}; remaining gap Short - No Short {}; No Short's "
            "early log10 spread change {} ({}): **{}**.\n",
            w, interval_text(gain), interval_text(gap), interval_text(spread_change),
            comparison_word(sign_of(spread_change)), outcome);
        ++warmup_outcomes[w][outcome];
      }
    }

  out += "\n## Summary\n\n";
  out += fmt::format(
      "- Claim 1 holds at {} of {} decided settings (depth x lr): the early spread is higher without shortcuts at "
      "{}, the accuracy lower at {}.\n",
      tally.both, tally.settings, tally.spread_higher, tally.accuracy_lower);
  for (const std::string& w : grid.warmups) {
    if (w == none) continue;
    std::string parts;
    for (const auto& [outcome, count] : warmup_outcomes[w])
      parts += fmt::format("{}{} at {}", parts.empty() ? "" : "; ", outcome, count);
    out += fmt::format("- Warm-up {}: {}.\n", w, parts);
  }
  return out;
}

}  // namespace elr
