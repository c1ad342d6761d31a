// SGD over a list of tensors in one launch, the conventions of sgd_update_cpu (heavy ball or dampened), with each
// tensor's learning rate read from device memory (written by lr_control_cuda: no host round
// trip). |lr * step|^2 per tensor: per-chunk partials, then one finishing block per tensor.
#include "engine/error.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/multi_tensor.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

using namespace cuda_detail;

__global__ void sgd_chunk_kernel(MultiTensorList list, float lr_default, float momentum, float wd, bool nesterov,
                                 bool dampened, bool first, const double* __restrict__ lrs) {
  const ChunkRange r = chunk_range(list, blockIdx.x);
  const MultiTensorDesc d = list.descs[r.tensor];
  const float lr = lrs ? float(lrs[r.tensor]) : lr_default;
  const bool use_momentum = momentum != 0.0f, use_wd = wd != 0.0f;
  const float damping = 1.0f - momentum;  // dampened: the weight of dir in the buffer
  double sum[1] = {0.0};
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    // Skipping wd * w when wd == 0 keeps an inf weight from turning the gradient into NaN.
    const float dir = use_wd ? d.g[i] + wd * d.w[i] : d.g[i];
    float step = dir;
    if (use_momentum) {
      const float fresh = dampened ? damping * dir : dir;
      const float buf = first ? fresh : momentum * d.v[i] + fresh;
      d.v[i] = buf;
      step = nesterov ? dir + momentum * buf : buf;
    }
    const float update = lr * step;
    d.w[i] -= update;
    sum[0] += double(update) * double(update);
  }
  block_sum(sum);
  if (threadIdx.x == 0) list.partials[int64_t(blockIdx.x) * kPartialStride] = sum[0];
}

}  // namespace

void sgd_update_cuda(const MultiTensorList& list, const SgdParams& p, const double* lrs, double* dw2, Stream stream) {
  const bool use_momentum = p.momentum != 0.0f;
  ELR_CHECK(!p.nesterov || use_momentum, "sgd_update_cuda: nesterov needs a momentum > 0 (got momentum {})",
            p.momentum);
  ELR_CHECK(!use_momentum || list.momentum_buffers,
            "sgd_update_cuda: momentum {} needs a momentum buffer for every tensor of the list", p.momentum);
  if (list.chunks > 0)
    ELR_LAUNCH(sgd_chunk_kernel, list.chunks, kChunkThreads, 0, stream, list, p.lr, p.momentum, p.weight_decay,
               p.nesterov, p.dampened, p.first_step, lrs);
  if (list.tensors > 0) ELR_LAUNCH((finish_partials_kernel<1>), list.tensors, kFinishThreads, 0, stream, list, dw2);
}

}  // namespace elr::kernels
