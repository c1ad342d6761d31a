#include "engine/comm.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/error.h"

#ifdef ELR_WITH_MPI
#include "engine/mpi/mpi_world.h"
#endif

namespace elr {

namespace {

// This process alone: every collective is the identity.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  void sum(double*, size_t) override {}
  void all_gather(const void* bytes, size_t n, void* out) override {
    if (n) std::memcpy(out, bytes, n);
  }
  void broadcast(void*, size_t, int) override {}
  [[noreturn]] void abort(int exit_code) override { std::_Exit(exit_code); }
};

SingleProcess g_single;
Communicator* g_world = &g_single;
bool g_failure_agreed = false;

}  // namespace

Communicator& world() { return *g_world; }

int launched_world_size() {
  // Open MPI's mpirun, MPICH's and Slurm's PMI, and srun's own count of the step's tasks.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"})
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  return 1;
}

WorldScope::WorldScope() {
  const int launched = launched_world_size();
  if (launched <= 1) return;
#ifdef ELR_WITH_MPI
  g_world = join_mpi_world();
#else
  throw UserError(fmt::format(
      "started as one of {} ranks, but this elrscope was built without MPI: install Open MPI (scripts/setup.sh) and "
      "rebuild, or run one process",
      launched));
#endif
}

WorldScope::~WorldScope() {
#ifdef ELR_WITH_MPI
  if (g_world != &g_single) leave_mpi_world();
#endif
  g_world = &g_single;
}

void run_on_all_ranks(Communicator& comm, const std::function<void()>& work) {
  std::exception_ptr error;
  int32_t code = 0;
  try {
    work();
  } catch (const std::exception& e) {
    error = std::current_exception();
    code = exit_code_of(e);
  }
  if (comm.size() == 1) {
    if (error) std::rethrow_exception(error);
    return;
  }
  std::vector<int32_t> codes(static_cast<size_t>(comm.size()));
  comm.all_gather(&code, sizeof code, codes.data());
  for (int r = 0; r < comm.size(); ++r) {
    if (codes[static_cast<size_t>(r)] == 0) continue;
    g_failure_agreed = true;
    if (r == comm.rank()) std::rethrow_exception(error);
    throw OtherRankFailed(fmt::format("rank {} failed", r), codes[static_cast<size_t>(r)]);
  }
}

bool failure_agreed() { return g_failure_agreed; }

std::string broadcast_string(Communicator& comm, const std::string& s, int root) {
  if (comm.size() == 1) return s;
  uint64_t length = s.size();
  comm.broadcast(&length, sizeof length, root);
  std::string out = comm.rank() == root ? s : std::string(length, '\0');
  if (length) comm.broadcast(out.data(), length, root);
  return out;
}

}  // namespace elr
