#include "experiments/run/run_ranks.h"

#include <vector>

#include <fmt/format.h>

#include "engine/error.h"

namespace elr {

void check_rank_layout(const TrainConfig& cfg, int ranks) {
  if (ranks <= 1) return;
  if (cfg.batch % ranks != 0)
    throw UserError(fmt::format(
        "--batch: the global batch of {} does not split into {} equal shares, one per rank: use a multiple of {}",
        cfg.batch, ranks, ranks));
  // Rank 0 evaluates alone: a re-estimation of the BN statistics there could not run synchronized BN.
  if (cfg.bn_recalibrate > 0)
    throw UserError(fmt::format("--bn-recalibrate: only in a run of one process, not of {} ranks", ranks));
  const int64_t share = cfg.batch / ranks;
  if (!cfg.sync_bn && share < 2)
    throw UserError(fmt::format(
        "--batch: each of the {} ranks gets {} image; batch norm per rank needs at least 2 (or --sync-bn)", ranks,
        share));
  if (share % cfg.bn_groups != 0)
    throw UserError(fmt::format("--bn-groups: {} groups do not divide a rank's share of {} images", cfg.bn_groups,
                                share));
  if (cfg.device.is_cuda() && cfg.device.index != 0)
    throw UserError(fmt::format("--device: with several ranks each rank takes the GPU of its local rank: give "
                                "--device cuda, not {}",
                                setting_text(cfg.device)));
}

uint64_t settings_hash(const TrainConfig& cfg) {
  const std::string text = config_to_json(cfg).dump() + (cfg.resume ? " resume" : "");
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void check_same_settings(Communicator& ranks, const TrainConfig& cfg) {
  if (ranks.size() == 1) return;
  const uint64_t mine = settings_hash(cfg);
  std::vector<uint64_t> all(static_cast<size_t>(ranks.size()));
  ranks.all_gather(&mine, sizeof mine, all.data());
  run_on_all_ranks(ranks, [&] {
    if (!ranks.is_root()) return;
    for (size_t r = 1; r < all.size(); ++r)
      if (all[r] != all[0])
        throw UserError(fmt::format("rank {} was started with other settings than rank 0 (settings hash {:016x}, rank "
                                    "0: {:016x}): start every rank with the same command line",
                                    r, all[r], all[0]));
  });
}

void check_resume_world_size(const nlohmann::json& config, const std::string& dir, int ranks) {
  // Runs from before data-parallel training have no "world_size": they ran as one process.
  const int64_t ran_on = config.contains("world_size") && config["world_size"].is_number_integer()
                             ? config["world_size"].get<int64_t>()
                             : 1;
  if (ran_on == ranks) return;
  auto on = [](int64_t n) { return n == 1 ? std::string("one process") : fmt::format("{} ranks", n); };
  throw UserError(fmt::format(
      "--resume: the run in '{}' ran on {}, this resume on {}: resume it on {} (per-rank batch norm statistics and "
      "the order of the gradient sums depend on the number of ranks)",
      dir, on(ran_on), on(ranks), on(ran_on)));
}

int agreed_stop_signal(Communicator& ranks, int local_signal) {
  if (ranks.size() == 1) return local_signal;
  const int32_t mine = local_signal;
  std::vector<int32_t> all(static_cast<size_t>(ranks.size()));
  ranks.all_gather(&mine, sizeof mine, all.data());
  for (const int32_t s : all)
    if (s) return s;
  return 0;
}

}  // namespace elr
