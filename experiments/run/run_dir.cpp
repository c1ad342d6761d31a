#include "experiments/run/run_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/run_lock.h"

namespace elr {

namespace {

namespace fs = std::filesystem;

// What a run leaves in its folder: its own files (and their temporary twins of an atomic write
// that was cut short), and what `elrscope ode` and `elrscope report` write into it by default.
bool left_by_a_run(const std::string& name) {
  static const std::set<std::string> run_files = {"config.json", "metrics.jsonl", "layers.csv", "summary.json",
                                                  kCheckpointFile, "ode.csv", "report"};
  const std::string tmp = ".tmp";
  if (name.size() > tmp.size() && name.compare(name.size() - tmp.size(), tmp.size(), tmp) == 0)
    return run_files.count(name.substr(0, name.size() - tmp.size())) > 0;
  return run_files.count(name) > 0;
}

std::string name_list(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < 5; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 5) s += fmt::format(" and {} more", names.size() - 5);
  return s;
}

}  // namespace

std::string create_default_run_dir(const std::string& model, int depth) {
  const std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&t));
  const std::string base = fmt::format("runs/{}-{}-{}", model, depth, stamp);
  make_directories("runs");
  for (int n = 1;; ++n) {
    const std::string dir = n == 1 ? base : fmt::format("{}-{}", base, n);
    if (::mkdir(dir.c_str(), 0755) == 0) return dir;  // atomic: only one process creates it
    if (errno != EEXIST) throw UserError(fmt::format("cannot create folder '{}': {}", dir, std::strerror(errno)));
  }
}

void clear_for_new_run(const std::string& dir, bool overwrite) {
  std::vector<std::string> run_files, others;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name == kLockFile) continue;  // ours
    (left_by_a_run(name) ? run_files : others).push_back(name);
  }
  if (ec) throw UserError(fmt::format("cannot list folder '{}': {}", dir, ec.message()));
  if (run_files.empty() && others.empty()) return;
  if (!overwrite) {
    if (!path_exists(dir + "/config.json"))
      throw UserError(fmt::format("--out: '{}' is not empty ({}); choose a new or empty folder", dir,
                                  name_list(others.empty() ? run_files : others)));
    throw UserError(fmt::format("--out: '{}' holds {} run ({}); continue it with `elrscope train --resume {}`, or "
                                "replace it with --overwrite",
                                dir, run_finished(dir) ? "a finished" : "an unfinished", name_list(run_files), dir));
  }
  if (!others.empty())
    throw UserError(fmt::format("--overwrite: '{}' holds files that no run writes ({}); nothing was removed: move "
                                "them away or choose another folder",
                                dir, name_list(others)));
  for (const std::string& name : run_files) {
    fs::remove_all(dir + "/" + name, ec);
    if (ec) throw UserError(fmt::format("--overwrite: cannot remove '{}/{}': {}", dir, name, ec.message()));
  }
  std::fprintf(stderr, "elrscope: --overwrite: removed the earlier run's files from '%s' (%s)\n", dir.c_str(),
               name_list(run_files).c_str());
}

bool run_finished(const std::string& dir) {
  const std::string path = dir + "/summary.json";
  return path_exists(path) && !read_run_summary(path).interrupted;
}

ResumePlan plan_resume(const std::string& dir, int64_t total_steps) {
  ResumePlan plan;
  const std::string config_path = dir + "/config.json";
  plan.config = read_json(config_path);
  if (!plan.config.contains("total_steps") || !plan.config["total_steps"].is_number_integer())
    throw UserError(fmt::format("--resume: '{}' has no whole-number \"total_steps\"", config_path));
  plan.planned_steps = plan.config["total_steps"].get<int64_t>();
  if (run_finished(dir)) {
    plan.summary = read_run_summary(dir + "/summary.json");
    if (total_steps == plan.planned_steps) {
      plan.kind = ResumePlan::Kind::Finished;
      return plan;
    }
    if (plan.summary.diverged)
      throw UserError(fmt::format("--steps: the run in '{}' diverged at step {}; it cannot be extended", dir,
                                  plan.summary.diverged_step));
  }
  if (total_steps < plan.planned_steps)
    throw UserError(fmt::format(
        "--steps: the run in '{}' plans {} steps; a run can be extended, not shortened (got {})", dir,
        plan.planned_steps, total_steps));
  plan.kind = path_exists(dir + "/" + kCheckpointFile) ? ResumePlan::Kind::Continue : ResumePlan::Kind::Restart;
  return plan;
}

}  // namespace elr
