#include "engine/mpi/mpi_world.h"

#include <mpi.h>

#include <climits>
#include <vector>

#include "engine/error.h"

namespace elr {

namespace {

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm host;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &host);
    MPI_Comm_rank(host, &local_rank_);
    MPI_Comm_free(&host);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

  // A fixed order whatever MPI's reduction algorithm: rank r receives every rank's r-th chunk,
  // adds the chunks in rank order, and every rank gathers the sums.
  void sum(double* values, size_t n) override {
    if (n == 0) return;
    const size_t ranks = static_cast<size_t>(size_);
    const size_t chunk = (n + ranks - 1) / ranks;
    ELR_CHECK(chunk <= INT_MAX, "MPI sum: {} values are too many for one call", n);
    const int count = static_cast<int>(chunk);
    send_.assign(chunk * ranks, 0.0);
    std::copy(values, values + n, send_.begin());
    received_.resize(chunk * ranks);
    MPI_Alltoall(send_.data(), count, MPI_DOUBLE, received_.data(), count, MPI_DOUBLE, MPI_COMM_WORLD);
    std::vector<double> mine(chunk, 0.0);
    for (size_t r = 0; r < ranks; ++r)
      for (size_t i = 0; i < chunk; ++i) mine[i] += received_[r * chunk + i];
    MPI_Allgather(mine.data(), count, MPI_DOUBLE, send_.data(), count, MPI_DOUBLE, MPI_COMM_WORLD);
    std::copy(send_.begin(), send_.begin() + static_cast<std::ptrdiff_t>(n), values);
  }

  void all_gather(const void* bytes, size_t n, void* out) override {
    ELR_CHECK(n <= INT_MAX, "MPI all_gather: {} bytes are too many for one call", n);
    MPI_Allgather(bytes, static_cast<int>(n), MPI_BYTE, out, static_cast<int>(n), MPI_BYTE, MPI_COMM_WORLD);
  }

  void broadcast(void* bytes, size_t n, int root) override {
    ELR_CHECK(n <= INT_MAX, "MPI broadcast: {} bytes are too many for one call", n);
    MPI_Bcast(bytes, static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD);
  }

  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  std::vector<double> send_, received_;
};

MpiWorld* g_mpi = nullptr;

}  // namespace

Communicator* join_mpi_world() {
  int provided = 0;
  // OpenMP and the data loader run threads of their own; only the main thread calls MPI.
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  g_mpi = new MpiWorld();
  return g_mpi;
}

void leave_mpi_world() {
  delete g_mpi;
  g_mpi = nullptr;
  MPI_Finalize();
}

}  // namespace elr
