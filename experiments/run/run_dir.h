// A run directory's life before its run writes to it (docs/outputs.md): a new run gets a folder of
// its own, and --resume finds out what is left to do in an old one. The caller holds the folder's
// RunLock (experiments/run/run_lock.h) while it looks.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "experiments/run/run_logs.h"

namespace elr {

// Creates runs/<model>-<depth>-<YYYYmmdd-HHMMSS>, or the same name with -2, -3, ... when another run
// has it: two runs started in the same second get folders of their own.
std::string create_default_run_dir(const std::string& model, int depth);

// Readies the existing folder `dir` for a new run. A folder that holds files is refused (the error
// says how to continue or replace the run in it), unless `overwrite`: then what an earlier run left
// is removed (its files, and ode.csv and report/, which other commands write into a run). A file
// that no run writes is never removed: UserError naming it, before anything is removed.
void clear_for_new_run(const std::string& dir, bool overwrite);

// Whether the run in `dir` has ended for good: its summary.json exists and does not say interrupted.
bool run_finished(const std::string& dir);

// What `--resume` does with the run in `dir` when it is to have `total_steps` steps.
struct ResumePlan {
  enum class Kind {
    Finished,  // ended, and no more steps are asked for: nothing to do
    Restart,   // never wrote a checkpoint: starts again from step 0
    Continue,  // from its checkpoint (to total_steps: more than planned extends it)
  };
  Kind kind = Kind::Continue;
  nlohmann::json config;       // config.json
  int64_t planned_steps = 0;   // config.json's total_steps
  RunSummary summary;          // Finished: how it ended
};
// UserError for a request that cannot be met: fewer steps than planned or taken, or more steps for
// a run that diverged.
ResumePlan plan_resume(const std::string& dir, int64_t total_steps);

}  // namespace elr
