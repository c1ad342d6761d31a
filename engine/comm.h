// The ranks of a data-parallel run (docs/scale.md): the processes an MPI launcher (mpirun, srun)
// started, or this process alone. The engine owns it because batch norm over several ranks
// (engine/ops.cpp, --sync-bn) needs it as much as the optimizer's gradient all-reduce. Every
// collective here gives the same bits on every rank and in every run: sums are added in rank order.
#pragma once
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

namespace elr {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This rank's place among the ranks on its host (which GPU it takes).
  virtual int local_rank() const = 0;
  // values[i] = the sum over the ranks of their values[i], added in rank order in double.
  virtual void sum(double* values, size_t n) = 0;
  // out = every rank's `n` bytes, in rank order (size() * n bytes).
  virtual void all_gather(const void* bytes, size_t n, void* out) = 0;
  // `root`'s n bytes onto every rank.
  virtual void broadcast(void* bytes, size_t n, int root) = 0;
  // Ends every rank's process now (an error one rank met that the others cannot know of).
  [[noreturn]] virtual void abort(int exit_code) = 0;

  bool is_root() const { return rank() == 0; }
};

// Thrown on the ranks whose work went well when another rank's failed (run_on_all_ranks): that rank
// reports the error; these end with its exit code and say nothing.
class OtherRankFailed : public std::runtime_error {
 public:
  OtherRankFailed(const std::string& what, int exit_code) : std::runtime_error(what), exit_code(exit_code) {}
  int exit_code;
};

// The ranks of this process: MPI's world after start_world() found an MPI launch with more than one
// rank, else this process alone.
Communicator& world();

// The number of ranks an MPI launcher started this process among (1 without one), from its
// environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE, SLURM_STEP_NUM_TASKS).
int launched_world_size();

// Joins the MPI world when launched as one of several ranks (UserError when this build has no MPI);
// leaves it on destruction. One per process, around everything that communicates.
class WorldScope {
 public:
  WorldScope();
  ~WorldScope();
  WorldScope(const WorldScope&) = delete;
  WorldScope& operator=(const WorldScope&) = delete;
};

// Runs `work` on every rank and agrees on its outcome: when it throws on some rank, the first such
// rank rethrows its error and every other rank throws OtherRankFailed with that error's exit code
// (exit_code_of), so no rank waits in a collective for a rank that has stopped.
void run_on_all_ranks(Communicator& comm, const std::function<void()>& work);
// Whether every rank knows of the error this process is ending with (it came out of
// run_on_all_ranks): then each rank ends on its own; otherwise the error's rank ends them all.
bool failure_agreed();

// A string from `root` onto every rank.
std::string broadcast_string(Communicator& comm, const std::string& s, int root = 0);

}  // namespace elr
