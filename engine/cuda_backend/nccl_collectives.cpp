#include "engine/cuda_backend/nccl_collectives.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <fmt/format.h>

#include "engine/cuda/check.h"
#include "engine/device_ops.h"
#include "engine/error.h"

#define ELR_NCCL_CHECK(call)                                                                                 \
  do {                                                                                                       \
    const ncclResult_t elr_status_ = (call);                                                                 \
    if (elr_status_ != ncclSuccess)                                                                          \
      ::elr::cuda::throw_api_error("NCCL", #call, __FILE__, __LINE__, int(elr_status_),                      \
                                   ncclGetErrorString(elr_status_));                                         \
  } while (0)

namespace elr::cuda_backend {

namespace {

// The all-reduces run on a stream of their own. An event recorded on the engine stream orders each
// group after the gradients it reads (the engine stream goes on with the backward meanwhile), and
// one recorded on the all-reduce stream makes the engine stream wait before the optimizer. Both
// are stream-ordered, so the step can still be captured as a CUDA graph.
class NcclCollectives final : public DeviceCollectives {
 public:
  explicit NcclCollectives(Communicator& ranks) : ranks_(ranks.size()) {
    int devices = 0;
    ELR_CUDA_CHECK(cudaGetDeviceCount(&devices));
    ELR_CHECK(devices > 0, "NCCL: no CUDA device");
    ELR_CUDA_CHECK(cudaSetDevice(ranks.local_rank() % devices));
    ncclUniqueId id{};
    if (ranks.is_root()) ELR_NCCL_CHECK(ncclGetUniqueId(&id));
    ranks.broadcast(&id, sizeof id, 0);
    ELR_NCCL_CHECK(ncclCommInitRank(&comm_, ranks.size(), id, ranks.rank()));
    ELR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    ELR_CUDA_CHECK(cudaEventCreateWithFlags(&engine_done_, cudaEventDisableTiming));
    ELR_CUDA_CHECK(cudaEventCreateWithFlags(&reduced_, cudaEventDisableTiming));
  }

  ~NcclCollectives() override {
    cudaStreamSynchronize(stream_);
    ncclCommDestroy(comm_);
    cudaEventDestroy(reduced_);
    cudaEventDestroy(engine_done_);
    cudaStreamDestroy(stream_);
  }

  int ranks() const override { return ranks_; }

  void average(const std::vector<Buffer>& buffers) override {
    after_engine_work();
    ELR_NCCL_CHECK(ncclGroupStart());
    for (const Buffer& b : buffers)
      ELR_NCCL_CHECK(ncclAllReduce(b.data, b.data, static_cast<size_t>(b.count), ncclFloat, ncclAvg, comm_, stream_));
    ELR_NCCL_CHECK(ncclGroupEnd());
  }

  void finish(float* loss, int64_t* correct) override {
    after_engine_work();
    ELR_NCCL_CHECK(ncclGroupStart());
    ELR_NCCL_CHECK(ncclAllReduce(loss, loss, 1, ncclFloat, ncclAvg, comm_, stream_));
    ELR_NCCL_CHECK(ncclAllReduce(correct, correct, 1, ncclInt64, ncclSum, comm_, stream_));
    ELR_NCCL_CHECK(ncclGroupEnd());
    ELR_CUDA_CHECK(cudaEventRecord(reduced_, stream_));
    ELR_CUDA_CHECK(cudaStreamWaitEvent(cuda_ops().stream(), reduced_, 0));
  }

 private:
  void after_engine_work() {
    ELR_CUDA_CHECK(cudaEventRecord(engine_done_, cuda_ops().stream()));
    ELR_CUDA_CHECK(cudaStreamWaitEvent(stream_, engine_done_, 0));
  }

  int ranks_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t engine_done_ = nullptr, reduced_ = nullptr;
};

}  // namespace

std::unique_ptr<DeviceCollectives> make_nccl_collectives(Communicator& ranks) {
  return std::make_unique<NcclCollectives>(ranks);
}

}  // namespace elr::cuda_backend
