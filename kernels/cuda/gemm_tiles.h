// The implicit-GEMM main loop behind the conv2d and linear kernels: C[M, N] = sum_k A(m, k) B(k, n).
// A and B are never materialized: each operand type gathers its tile elements straight from the
// tensors (no im2col buffer) and returns zeros outside the problem. One block computes a BM x BN
// tile of C through BK-deep shared-memory stages; each thread keeps a TM x TN register block.
// The next stage's global loads are issued before the current stage's math (register prefetch),
// so each stage costs two barriers and no extra shared memory.
//
// Split-K (weight gradients, where K is the long batch*pixels axis): block z of the grid covers
// k in [z * k_per_split, (z + 1) * k_per_split) and writes its partial tile to the caller's
// workspace; a second kernel adds the partials in z order. The split count depends only on the
// shape, so the result is the same on every run and every device (no float atomics anywhere).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

// The optional TF32 tensor-core path (set_cuda_conv_tf32, default off) exists only in nvcc's
// device code for sm_80+: the CPU layer and older GPUs always run the FP32 CUDA-core loop.
#if defined(__CUDACC__)
#include <mma.h>
#endif
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define ELR_GEMM_TF32_DEVICE 1
#endif

// Full unrolling of the fixed-trip loops (register blocks, stage loads) in both builds.
#if defined(__CUDACC__)
#define ELR_GEMM_UNROLL _Pragma("unroll")
#else
#define ELR_GEMM_UNROLL _Pragma("GCC unroll 16")
#endif

namespace elr::kernels::gemm {

template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct TileConfig {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int kThreadsM = BM / TM, kThreadsN = BN / TN;
  static constexpr int kThreads = kThreadsM * kThreadsN;
  static constexpr int kLoadsA = BM * BK / kThreads;  // A elements each thread stages per stage
  static constexpr int kLoadsB = BN * BK / kThreads;
  static_assert(BM % TM == 0 && BN % TN == 0, "register blocks must tile the block tile");
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "whole warps, at most 1024 threads");
  static_assert((BM * BK) % kThreads == 0 && (BN * BK) % kThreads == 0, "stages split evenly");
  static_assert(kLoadsA >= 1 && kLoadsB >= 1 && BK % kLoadsA == 0 && BK % kLoadsB == 0,
                "k runs must tile the stage depth");
  static_assert(kThreads % BM == 0 && kThreads % BN == 0, "m/n runs must tile the block");
};

// The tile shapes the entry points choose from (bench/labs/conv_tiles.cu times them).
using Tiles32 = TileConfig<32, 32, 16, 2, 2>;     // small channel counts (CIFAR's 16-channel stage)
using Tiles64 = TileConfig<64, 64, 16, 4, 4>;     // the default
using Tiles128 = TileConfig<128, 128, 8, 8, 8>;   // large problems with enough blocks to fill a GPU

// How a thread gathers its L elements of an operand's stage:
//  KRun:  one row mn of the tile, L consecutive k: vector loads where the operand is contiguous in k.
//  MNRun: one mn per thread (consecutive threads, consecutive mn: coalesced where the operand is
//         contiguous in m or n), k strided by kThreads / tile extent.
enum class Gather { KRun, MNRun };

template <Gather G, int Extent, int Threads, int Loads>
struct GatherPattern;
template <int Extent, int Threads, int Loads>
struct GatherPattern<Gather::KRun, Extent, Threads, Loads> {
  static __device__ __forceinline__ int mn(int t, int bk) { return t / (bk / Loads); }
  static __device__ __forceinline__ int k_first(int t, int bk) { return (t % (bk / Loads)) * Loads; }
  static constexpr int kStep = 1;
};
template <int Extent, int Threads, int Loads>
struct GatherPattern<Gather::MNRun, Extent, Threads, Loads> {
  static __device__ __forceinline__ int mn(int t, int) { return t % Extent; }
  static __device__ __forceinline__ int k_first(int t, int) { return t / Extent; }
  static constexpr int kStep = Threads / Extent;
};

// ---- generic operands over plain row-major matrices -------------------------------------------
// Element (mn, k) = base[mn * ld + k] for mn < rows: contiguous in k, float4 loads when allowed.
struct RowsOperand {
  static constexpr Gather kGather = Gather::KRun;
  const float* base;
  int rows, ld;
  bool vector_ok;  // ld % 4 == 0 and base 16-byte aligned
  struct Ctx {
    const float* row;
    bool valid;
  };
  __device__ __forceinline__ Ctx context(int mn) const {
    const bool valid = mn < rows;
    return {base + int64_t(valid ? mn : 0) * ld, valid};
  }
  template <int L, int Step>
  __device__ __forceinline__ void load(const Ctx& c, int k, int k_limit, float (&v)[L]) const {
    if constexpr (L % 4 == 0 && Step == 1) {
      if (vector_ok && c.valid && k + L <= k_limit) {  // k is a multiple of 4: aligned
ELR_GEMM_UNROLL
        for (int j = 0; j < L; j += 4) {
          const float4 q = __ldg(reinterpret_cast<const float4*>(c.row + k + j));
          v[j] = q.x, v[j + 1] = q.y, v[j + 2] = q.z, v[j + 3] = q.w;
        }
        return;
      }
    }
ELR_GEMM_UNROLL
    for (int i = 0; i < L; ++i) {
      const int kk = k + i * Step;
      v[i] = (c.valid && kk < k_limit) ? __ldg(c.row + kk) : 0.0f;
    }
  }
};

// Element (mn, k) = base[k * ld + mn] for mn < cols: contiguous in mn (coalesced across threads).
struct ColumnsOperand {
  static constexpr Gather kGather = Gather::MNRun;
  const float* base;
  int cols, ld;
  struct Ctx {
    const float* col;
    bool valid;
  };
  __device__ __forceinline__ Ctx context(int mn) const {
    const bool valid = mn < cols;
    return {base + (valid ? mn : 0), valid};
  }
  template <int L, int Step>
  __device__ __forceinline__ void load(const Ctx& c, int k, int k_limit, float (&v)[L]) const {
ELR_GEMM_UNROLL
    for (int i = 0; i < L; ++i) {
      const int kk = k + i * Step;
      v[i] = (c.valid && kk < k_limit) ? __ldg(c.col + int64_t(kk) * ld) : 0.0f;
    }
  }
};

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Division of a non-negative int by a divisor fixed at launch, as a multiply and a shift (the
// gathers' index math; a hardware-less integer division costs ~20 instructions on the GPU).
// With l = ceil(log2 d) and m = ceil(2^(31+l) / d), n / d == (n * m) >> (31 + l) for every
// 0 <= n < 2^31 (Granlund and Montgomery, 1994); m fits in 32 bits.
struct FastDiv {
  uint32_t mul = 1u << 31;
  int shift = 31;
  FastDiv() = default;
  explicit FastDiv(int divisor) {
    const int d = divisor < 1 ? 1 : divisor;  // an empty extent: never divided by
    int l = 0;
    while ((int64_t(1) << l) < d) ++l;
    shift = 31 + l;
    mul = uint32_t(((uint64_t(1) << shift) + uint64_t(d) - 1) / uint64_t(d));
  }
  __device__ __forceinline__ int div(int n) const { return int((uint64_t(uint32_t(n)) * mul) >> shift); }
};

// ---- the kernels --------------------------------------------------------------------------------
// Problem: OperandA a, OperandB b (types named OperandA / OperandB), ints m, n, kdim, and
// store(m, n, value) writing C's element to its tensor. partial == nullptr: store directly.
// kTf32: the stage products on TF32 tensor cores (WMMA 16x16x8; 64x64 tiles, 8 warps of 32x16),
// the accumulators then pass through shared memory to the same epilogue.
template <class Config, class Problem, bool kTf32 = false>
__global__ void __launch_bounds__(Config::kThreads)
    implicit_gemm_kernel(const Problem p, float* __restrict__ partial, int k_per_split) {
  using A = typename Problem::OperandA;
  using B = typename Problem::OperandB;
  constexpr int BM = Config::BM, BN = Config::BN, BK = Config::BK, TM = Config::TM, TN = Config::TN;
  constexpr int LA = Config::kLoadsA, LB = Config::kLoadsB;
  using PA = GatherPattern<A::kGather, BM, Config::kThreads, LA>;
  using PB = GatherPattern<B::kGather, BN, Config::kThreads, LB>;

  __shared__ __align__(32) float a_stage[BK][BM];  // 32 bytes: WMMA's alignment
  __shared__ __align__(32) float b_stage[BK][BN];

  const int t = threadIdx.x;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_begin = blockIdx.z * k_per_split;
  const int k_end = min(p.kdim, k_begin + k_per_split);

  // Each thread gathers the same row of A and column of B every stage: decode them once.
  const int a_mn = PA::mn(t, BK), a_k = PA::k_first(t, BK);
  const int b_mn = PB::mn(t, BK), b_k = PB::k_first(t, BK);
  const typename A::Ctx a_ctx = p.a.context(m0 + a_mn);
  const typename B::Ctx b_ctx = p.b.context(n0 + b_mn);

  float a_next[LA], b_next[LB];
  p.a.template load<LA, PA::kStep>(a_ctx, k_begin + a_k, k_end, a_next);
  p.b.template load<LB, PB::kStep>(b_ctx, k_begin + b_k, k_end, b_next);

  const int tm = t / Config::kThreadsN, tn = t % Config::kThreadsN;
  float acc[TM][TN];
ELR_GEMM_UNROLL
  for (int i = 0; i < TM; ++i)
ELR_GEMM_UNROLL
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

#if ELR_GEMM_TF32_DEVICE
  namespace wmma = nvcuda::wmma;
  static_assert(!kTf32 || (BM == 64 && BN == 64 && BK % 8 == 0 && Config::kThreads == 256),
                "the TF32 path is laid out for 64x64 tiles and 8 warps");
  [[maybe_unused]] const int warp = t / 32, warp_m = warp / 4, warp_n = warp % 4;  // warp tile 32x16
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> c_frag[2];
  if constexpr (kTf32) {
    wmma::fill_fragment(c_frag[0], 0.0f);
    wmma::fill_fragment(c_frag[1], 0.0f);
  }
#endif

  // Trip count is the same for every thread of the block: the barriers are uniform.
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
ELR_GEMM_UNROLL
    for (int i = 0; i < LA; ++i) a_stage[a_k + i * PA::kStep][a_mn] = a_next[i];
ELR_GEMM_UNROLL
    for (int i = 0; i < LB; ++i) b_stage[b_k + i * PB::kStep][b_mn] = b_next[i];
    __syncthreads();
    if (k0 + BK < k_end) {  // prefetch the next stage while this one is multiplied
      p.a.template load<LA, PA::kStep>(a_ctx, k0 + BK + a_k, k_end, a_next);
      p.b.template load<LB, PB::kStep>(b_ctx, k0 + BK + b_k, k_end, b_next);
    }
#if ELR_GEMM_TF32_DEVICE
    if constexpr (kTf32) {
      for (int kk = 0; kk < BK; kk += 8) {
        // a_stage[k][m] is A column-major (ld BM); b_stage[k][n] is B row-major (ld BN).
        wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b_tc;
        wmma::load_matrix_sync(b_tc, &b_stage[kk][warp_n * 16], BN);
        for (int e = 0; e < b_tc.num_elements; ++e) b_tc.x[e] = wmma::__float_to_tf32(b_tc.x[e]);
        for (int f = 0; f < 2; ++f) {
          wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> a_tc;
          wmma::load_matrix_sync(a_tc, &a_stage[kk][warp_m * 32 + f * 16], BM);
          for (int e = 0; e < a_tc.num_elements; ++e) a_tc.x[e] = wmma::__float_to_tf32(a_tc.x[e]);
          wmma::mma_sync(c_frag[f], a_tc, b_tc, c_frag[f]);
        }
      }
    } else
#endif
ELR_GEMM_UNROLL
    for (int kk = 0; kk < BK; ++kk) {
      float a_frag[TM], b_frag[TN];
ELR_GEMM_UNROLL
      for (int i = 0; i < TM; ++i) a_frag[i] = a_stage[kk][tm * TM + i];
ELR_GEMM_UNROLL
      for (int j = 0; j < TN; ++j) b_frag[j] = b_stage[kk][tn * TN + j];
ELR_GEMM_UNROLL
      for (int i = 0; i < TM; ++i)
ELR_GEMM_UNROLL
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a_frag[i], b_frag[j], acc[i][j]);
    }
    __syncthreads();
  }

#if ELR_GEMM_TF32_DEVICE
  if constexpr (kTf32) {  // accumulators -> shared tile -> each thread's register block
    __shared__ __align__(32) float c_stage[BM][BN];
    wmma::store_matrix_sync(&c_stage[warp_m * 32][warp_n * 16], c_frag[0], BN, wmma::mem_row_major);
    wmma::store_matrix_sync(&c_stage[warp_m * 32 + 16][warp_n * 16], c_frag[1], BN, wmma::mem_row_major);
    __syncthreads();
    for (int i = 0; i < TM; ++i)
      for (int j = 0; j < TN; ++j) acc[i][j] = c_stage[tm * TM + i][tn * TN + j];
  }
#endif

  const int64_t slice = int64_t(p.m) * p.n;
ELR_GEMM_UNROLL
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + tm * TM + i;
ELR_GEMM_UNROLL
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + tn * TN + j;
      if (m < p.m && n < p.n) {
        if (partial)
          partial[blockIdx.z * slice + int64_t(m) * p.n + n] = acc[i][j];
        else
          p.store(m, n, acc[i][j]);
      }
    }
  }
}

// Adds the split-K partials in z order (fixed, so the sum is the same on every run).
template <class Problem>
__global__ void split_k_reduce_kernel(const Problem p, const float* __restrict__ partial, int splits) {
  const int64_t slice = int64_t(p.m) * p.n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < slice;
       i += int64_t(gridDim.x) * blockDim.x) {
    float sum = 0.0f;
    for (int z = 0; z < splits; ++z) sum += partial[z * slice + i];
    p.store(int(i / p.n), int(i % p.n), sum);
  }
}

// ---- host side ----------------------------------------------------------------------------------
inline int ceil_div(int64_t a, int64_t b) { return int((a + b - 1) / b); }

// Split count for a weight gradient: enough blocks for about two waves of a 132-SM GPU, each split
// at least 8 stages deep. A constant target, so results never depend on the device.
template <class Config>
int choose_splits(int m, int n, int kdim) {
  constexpr int kTargetBlocks = 264, kMaxSplits = 64, kMinStagesPerSplit = 8;
  const int tiles = ceil_div(m, Config::BM) * ceil_div(n, Config::BN);
  int splits = kTargetBlocks / tiles;
  splits = std::min(splits, kdim / (Config::BK * kMinStagesPerSplit));
  splits = std::min(splits, kMaxSplits);
  return splits < 1 ? 1 : splits;
}

// k per split, a whole number of stages: the split count that results can be below the one asked.
template <class Config>
int k_per_split(int kdim, int splits) {
  return kdim > 0 ? ceil_div(ceil_div(kdim, splits), Config::BK) * Config::BK : Config::BK;
}

// Bytes of the partial tiles a GEMM split `splits` ways writes (0 when it runs unsplit).
template <class Config>
size_t split_workspace_bytes(int m, int n, int kdim, int splits) {
  const int actual = kdim > 0 ? ceil_div(kdim, k_per_split<Config>(kdim, splits)) : 1;
  return actual > 1 ? size_t(actual) * size_t(m) * size_t(n) * sizeof(float) : 0;
}

template <class Config, class Problem, bool kTf32 = false>
void launch_gemm(const Problem& p, int splits, Workspace workspace, Stream stream) {
  // kdim == 0 (no tap reaches a stride phase): one pass that stores zeros.
  const int k_split = k_per_split<Config>(p.kdim, splits);
  splits = p.kdim > 0 ? ceil_div(p.kdim, k_split) : 1;
  const dim3 grid(unsigned(ceil_div(p.n, Config::BN)), unsigned(ceil_div(p.m, Config::BM)), unsigned(splits));
  if (splits == 1) {
    ELR_LAUNCH((implicit_gemm_kernel<Config, Problem, kTf32>), grid, dim3(Config::kThreads), 0, stream, p,
               static_cast<float*>(nullptr), k_split);
    return;
  }
  const size_t needed = split_workspace_bytes<Config>(p.m, p.n, p.kdim, splits);
  ELR_CHECK(workspace.data && workspace.bytes >= needed,
            "split-K GEMM [m={}, n={}, k={}]: the workspace has {} bytes, {} needed (ask the entry's "
            "*_workspace_bytes)", p.m, p.n, p.kdim, workspace.bytes, needed);
  float* partial = static_cast<float*>(workspace.data);
  ELR_LAUNCH((implicit_gemm_kernel<Config, Problem, kTf32>), grid, dim3(Config::kThreads), 0, stream, p, partial,
             k_split);
  constexpr int kReduceThreads = 256;
  const int reduce_blocks = std::min(ceil_div(int64_t(p.m) * p.n, kReduceThreads), 4096);
  ELR_LAUNCH((split_k_reduce_kernel<Problem>), dim3(reduce_blocks), dim3(kReduceThreads), 0, stream, p,
             static_cast<const float*>(partial), splits);
}

// How a GEMM runs: its tile shape, chosen from the problem shape (or the override set by
// set_cuda_gemm_tiles; the TF32 path has one), and the split count asked for.
struct GemmPlan {
  GemmTiles tiles = GemmTiles::Tiles64;
  bool tf32 = false;
  int splits = 1;
};

inline GemmPlan plan_gemm(int m, int n, int kdim, bool allow_split) {
  GemmPlan plan;
#if defined(__CUDACC__)
  plan.tf32 = cuda_conv_tf32();
#endif
  plan.tiles = plan.tf32 ? GemmTiles::Tiles64 : cuda_gemm_tiles();
  if (plan.tiles == GemmTiles::Auto) {
    if (m <= 32)
      plan.tiles = GemmTiles::Tiles32;
    else if (int64_t(ceil_div(m, 128)) * ceil_div(n, 128) >= 132)
      plan.tiles = GemmTiles::Tiles128;
    else
      plan.tiles = GemmTiles::Tiles64;
  }
  if (allow_split) {
    switch (plan.tiles) {
      case GemmTiles::Tiles32: plan.splits = choose_splits<Tiles32>(m, n, kdim); break;
      case GemmTiles::Tiles128: plan.splits = choose_splits<Tiles128>(m, n, kdim); break;
      default: plan.splits = choose_splits<Tiles64>(m, n, kdim); break;
    }
  }
  return plan;
}

// The workspace run_gemm needs for this problem shape under the current settings.
inline size_t gemm_workspace_bytes(int m, int n, int kdim, bool allow_split) {
  const GemmPlan plan = plan_gemm(m, n, kdim, allow_split);
  switch (plan.tiles) {
    case GemmTiles::Tiles32: return split_workspace_bytes<Tiles32>(m, n, kdim, plan.splits);
    case GemmTiles::Tiles128: return split_workspace_bytes<Tiles128>(m, n, kdim, plan.splits);
    default: return split_workspace_bytes<Tiles64>(m, n, kdim, plan.splits);
  }
}

template <class Problem>
void run_gemm(const Problem& p, bool allow_split, Workspace workspace, Stream stream) {
  const GemmPlan plan = plan_gemm(p.m, p.n, p.kdim, allow_split);
#if defined(__CUDACC__)
  if (plan.tf32) {  // one tile shape: the one the tensor-core layout is written for
    launch_gemm<Tiles64, Problem, true>(p, plan.splits, workspace, stream);
    return;
  }
#endif
  switch (plan.tiles) {
    case GemmTiles::Tiles32: launch_gemm<Tiles32>(p, plan.splits, workspace, stream); break;
    case GemmTiles::Tiles128: launch_gemm<Tiles128>(p, plan.splits, workspace, stream); break;
    default: launch_gemm<Tiles64>(p, plan.splits, workspace, stream); break;
  }
}

}  // namespace elr::kernels::gemm
