// Lab: per-layer statistics |W|^2, |g|^2, <g, W>, |v|^2 over every parameter tensor of a CIFAR
// ResNet-18 (about 11 M parameters in 62 tensors).
// Variants (each validated against tensor_stats_cpu, and bitwise against its own repeat, before
// it is timed):
//   1 production   tensor_stats_cuda: one chunked launch over all tensors + one finishing launch.
//   2 per-tensor   two launches per tensor (grid-stride partials, then a finishing block): what
//                  the multi-tensor launch saves.
//   3 vectorized   the production chunk map with float4 loads (chunks start at multiples of 4
//                  elements; cudaMalloc pointers are 256-byte aligned), scalar tail.
// Usage: elr_lab_layer_stats [--small] [--repeats N]
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/labs/lab_timing.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/multi_tensor.h"
#include "kernels/kernels.h"

using namespace elr::labs;
namespace k = elr::kernels;
namespace kd = elr::kernels::cuda_detail;

namespace {

// ---- variant 2: one tensor at a time ----
constexpr int kPerTensorBlocks = 264;

__global__ void single_tensor_partials_kernel(int64_t count, const float* w, const float* g, const float* v,
                                              double* partials) {
  double s[4] = {0, 0, 0, 0};
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const double wi = w[i], gi = g[i];
    s[0] += wi * wi, s[1] += gi * gi, s[2] += gi * wi;
    if (v) s[3] += double(v[i]) * double(v[i]);
  }
  kd::block_sum(s);
  if (threadIdx.x == 0)
    for (int j = 0; j < 4; ++j) partials[blockIdx.x * 4 + j] = s[j];
}

__global__ void single_tensor_finish_kernel(int blocks, const double* partials, double* out) {
  double s[4] = {0, 0, 0, 0};
  for (int b = threadIdx.x; b < blocks; b += blockDim.x)
    for (int j = 0; j < 4; ++j) s[j] += partials[b * 4 + j];
  kd::block_sum(s);
  if (threadIdx.x == 0)
    for (int j = 0; j < 4; ++j) out[j] = s[j];
}

// ---- variant 3: float4 loads ----
__global__ void vectorized_chunk_kernel(k::MultiTensorList list) {
  const kd::ChunkRange r = kd::chunk_range(list, blockIdx.x);
  const k::MultiTensorDesc d = list.descs[r.tensor];
  double s[4] = {0, 0, 0, 0};
  const int64_t vec_end = r.begin + (r.end - r.begin) / 4 * 4;
  for (int64_t i = r.begin + 4 * threadIdx.x; i < vec_end; i += 4 * blockDim.x) {
    const float4 w = *reinterpret_cast<const float4*>(d.w + i), g = *reinterpret_cast<const float4*>(d.g + i);
    s[0] += double(w.x) * w.x + double(w.y) * w.y + double(w.z) * w.z + double(w.w) * w.w;
    s[1] += double(g.x) * g.x + double(g.y) * g.y + double(g.z) * g.z + double(g.w) * g.w;
    s[2] += double(g.x) * w.x + double(g.y) * w.y + double(g.z) * w.z + double(g.w) * w.w;
    if (d.v) {
      const float4 v = *reinterpret_cast<const float4*>(d.v + i);
      s[3] += double(v.x) * v.x + double(v.y) * v.y + double(v.z) * v.z + double(v.w) * v.w;
    }
  }
  for (int64_t i = vec_end + threadIdx.x; i < r.end; i += blockDim.x) {
    const double wi = d.w[i], gi = d.g[i];
    s[0] += wi * wi, s[1] += gi * gi, s[2] += gi * wi;
    if (d.v) s[3] += double(d.v[i]) * double(d.v[i]);
  }
  kd::block_sum(s);
  if (threadIdx.x == 0)
    for (int j = 0; j < 4; ++j) list.partials[int64_t(blockIdx.x) * kd::kPartialStride + j] = s[j];
}

// Parameter tensor sizes of a CIFAR ResNet-18 (conv weights, BN weight and bias, classifier).
std::vector<int64_t> resnet18_sizes(int divisor) {
  std::vector<int64_t> sizes;
  auto conv = [&](int64_t k, int64_t c, int64_t r) { sizes.push_back(std::max<int64_t>(1, k * c * r * r / divisor)); };
  auto bn = [&](int64_t c) {
    sizes.push_back(std::max<int64_t>(1, c / divisor));
    sizes.push_back(std::max<int64_t>(1, c / divisor));
  };
  conv(64, 3, 3), bn(64);
  int64_t in = 64;
  for (int64_t width : {64, 128, 256, 512}) {
    for (int block = 0; block < 2; ++block) {
      conv(width, in, 3), bn(width), conv(width, width, 3), bn(width);
      if (in != width) conv(width, in, 1), bn(width);
      in = width;
    }
  }
  sizes.push_back(std::max<int64_t>(1, 512 * 10 / divisor));
  sizes.push_back(10);
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_options(argc, argv);
  print_device();
  const std::vector<int64_t> sizes = resnet18_sizes(opt.small ? 256 : 1);
  const int tensors = int(sizes.size());
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  std::printf("%d tensors, %lld parameters\n", tensors, (long long)total);

  std::vector<std::vector<float>> w, g, v;
  std::vector<k::MultiTensorDesc> descs;
  std::vector<k::TensorStats> want;
  for (int t = 0; t < tensors; ++t) {
    w.push_back(random_values(sizes[t], 3 * t + 1, 0.1f));
    g.push_back(random_values(sizes[t], 3 * t + 2, 0.01f));
    v.push_back(random_values(sizes[t], 3 * t + 3, 0.02f));
    descs.push_back({upload(w[t]), upload(g[t]), upload(v[t]), sizes[t]});
    want.push_back(k::tensor_stats_cpu(sizes[t], w[t].data(), g[t].data(), v[t].data()));
  }
  k::MultiTensorList list = k::make_multi_tensor_list(descs.data(), tensors);
  k::TensorStats* stats = nullptr;
  double* single_partials = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&stats), tensors * sizeof(k::TensorStats)), "cudaMalloc");
  check(cudaMalloc(reinterpret_cast<void**>(&single_partials), kPerTensorBlocks * 4 * sizeof(double)), "cudaMalloc");

  auto run = [&](int variant) {
    switch (variant) {
      case 1:
        k::tensor_stats_cuda(list, stats, nullptr);
        break;
      case 2:
        for (int t = 0; t < tensors; ++t) {
          const int blocks = int(std::min<int64_t>(kPerTensorBlocks, (sizes[t] + 4095) / 4096));
          ELR_LAUNCH(single_tensor_partials_kernel, blocks, 256, 0, nullptr, sizes[t], descs[t].w, descs[t].g,
                     descs[t].v, single_partials);
          ELR_LAUNCH(single_tensor_finish_kernel, 1, 256, 0, nullptr, blocks, single_partials,
                     reinterpret_cast<double*>(stats + t));
        }
        break;
      case 3:
        ELR_LAUNCH(vectorized_chunk_kernel, list.chunks, kd::kChunkThreads, 0, nullptr, list);
        ELR_LAUNCH((kd::finish_partials_kernel<4>), list.tensors, kd::kFinishThreads, 0, nullptr, list,
                   reinterpret_cast<double*>(stats));
        break;
    }
  };

  auto as_doubles = [](const std::vector<k::TensorStats>& s) {
    std::vector<double> out;
    for (const auto& t : s) out.insert(out.end(), {t.w2, t.g2, t.gw, t.v2});
    return out;
  };
  L2Flusher flusher(opt.small ? (1u << 20) : (256u << 20));
  bool all_valid = true;
  const char* names[] = {"", "1-production", "2-per-tensor", "3-vectorized"};
  const std::string shape = std::to_string(tensors) + " tensors/" + std::to_string(total);
  for (int variant = 1; variant <= 3; ++variant) {
    run(variant);
    const auto first = download(stats, tensors);
    run(variant);
    const auto second = download(stats, tensors);
    const bool repeatable = std::memcmp(first.data(), second.data(), tensors * sizeof(k::TensorStats)) == 0;
    const double err = error_ratio(as_doubles(first), as_doubles(want), 1e-10, 1e-300);
    const bool valid = repeatable && err <= 1;
    if (!repeatable) std::printf("%s: results differ between two runs\n", names[variant]);
    const double ms = valid ? median_ms([&] { run(variant); }, opt.repeats, flusher) : 0;
    report("layer_stats", names[variant], shape, valid, err, ms, 16.0 * double(total));
    all_valid &= valid;
  }
  k::free_multi_tensor_list(list);
  cudaFree(stats);
  cudaFree(single_partials);
  for (auto& d : descs) cudaFree(d.w), cudaFree(const_cast<float*>(d.g)), cudaFree(d.v);
  std::printf("%s\n", all_valid ? "all variants valid" : "SOME VARIANTS FAILED VALIDATION");
  return all_valid ? 0 : 1;
}
