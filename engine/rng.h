// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"): a counter-based
// generator. Output i of stream s under seed k depends only on (k, s, i), so the CPU and the GPU
// draw identical numbers in any order and any number of threads. Header-only, host and device.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define ELR_HD __host__ __device__
#else
#define ELR_HD
#endif

namespace elr {

struct Philox4x32 {
  uint32_t v[4];
};

ELR_HD inline Philox4x32 philox4x32(uint64_t seed, uint64_t stream, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = static_cast<uint32_t>(stream), c3 = static_cast<uint32_t>(stream >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// The i-th 32-bit output of (seed, stream).
ELR_HD inline uint32_t philox_u32(uint64_t seed, uint64_t stream, uint64_t i) {
  return philox4x32(seed, stream, i / 4).v[i % 4];
}

// [0, 1) with 24 bits, exactly representable in float.
ELR_HD inline float u32_to_unit_float(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

// One standard normal from outputs 2i and 2i+1 (Box-Muller, the cosine branch), computed in double
// so that host and device agree to the last bit after rounding to float.
ELR_HD inline float philox_normal(uint64_t seed, uint64_t stream, uint64_t i) {
  Philox4x32 r = philox4x32(seed, stream, i / 2);
  int half = static_cast<int>(i % 2) * 2;
  double u1 = (static_cast<double>(r.v[half]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
  double u2 = static_cast<double>(r.v[half + 1]) * (1.0 / 4294967296.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

// A sequential generator over one (seed, stream): its whole state is three integers, so it can be
// checkpointed and resumed exactly.
class Rng {
 public:
  Rng(uint64_t seed = 0, uint64_t stream = 0, uint64_t counter = 0)
      : seed_(seed), stream_(stream), counter_(counter) {}
  uint32_t next_u32() { return philox_u32(seed_, stream_, counter_++); }
  float uniform() { return u32_to_unit_float(next_u32()); }
  // Uniform integer in [0, n) (Lemire's multiply-shift; the tiny bias is irrelevant for n << 2^32).
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((static_cast<uint64_t>(next_u32()) * n) >> 32); }
  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t counter() const { return counter_; }

 private:
  uint64_t seed_, stream_, counter_;
};

// Streams used by the engine, so that no two consumers of randomness share one.
enum RngStream : uint64_t {
  kStreamInit = 1,      // parameter initialization (+ parameter index)
  kStreamShuffle = 1u << 20,  // data order (+ epoch)
  kStreamAugment = 1u << 21,  // crops and flips (+ epoch)
  kStreamSynthetic = 1u << 22,
};

}  // namespace elr
