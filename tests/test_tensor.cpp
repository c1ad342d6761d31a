#include <catch2/catch.hpp>

#include "engine/error.h"
#include "engine/rng.h"
#include "engine/tensor.h"

using namespace elr;

TEST_CASE("tensor: shape, storage, reshape shares data", "[tensor]") {
  Tensor t = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(t.numel() == 6);
  CHECK(t.dim(-1) == 3);
  CHECK(t.str() == "f32[2, 3] on cpu");
  Tensor v = t.reshape({3, 2});
  v.data()[0] = 42;
  CHECK(t.data()[0] == 42);
  CHECK_THROWS_WITH(t.reshape({4, 2}), Catch::Contains("cannot view f32[2, 3] on cpu as [4, 2]"));
  CHECK(reinterpret_cast<uintptr_t>(t.raw()) % 64 == 0);
}

TEST_CASE("tensor: clone is a deep copy, zeros are zero", "[tensor]") {
  Tensor t = Tensor::full({4}, 3.0f);
  Tensor c = t.clone();
  c.data()[1] = 0;
  CHECK(t.data()[1] == 3.0f);
  Tensor z = Tensor::zeros({5});
  for (float x : z.to_vector()) CHECK(x == 0.0f);
}

TEST_CASE("tensor: a missing CUDA backend is a clear error", "[tensor]") {
  CHECK_THROWS_WITH(Device::parse("gpu"), Catch::Contains("unknown device 'gpu'"));
}

TEST_CASE("rng: philox matches the published known-answer vectors", "[rng]") {
  // Random123 kat_vectors: philox4x32-10 with counter and key all zero / all ones.
  Philox4x32 z = philox4x32(0, 0, 0);
  CHECK(z.v[0] == 0x6627e8d5u);
  CHECK(z.v[1] == 0xe169c58du);
  CHECK(z.v[2] == 0xbc57ac4cu);
  CHECK(z.v[3] == 0x9b00dbd8u);
  Philox4x32 o = philox4x32(~0ull, ~0ull, ~0ull);
  CHECK(o.v[0] == 0x408f276du);
  CHECK(o.v[1] == 0x41c83b0eu);
  CHECK(o.v[2] == 0xa20bc7c6u);
  CHECK(o.v[3] == 0x6d5451fdu);
}

TEST_CASE("rng: normals have mean 0 and variance 1, uniforms lie in 0..1", "[rng]") {
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = philox_normal(5, 9, i);
    s += x;
    s2 += x * x;
  }
  CHECK(std::abs(s / n) < 0.01);
  CHECK(std::abs(s2 / n - 1.0) < 0.02);
  Rng rng(3);
  for (int i = 0; i < 1000; ++i) {
    float u = rng.uniform();
    CHECK((u >= 0.0f && u < 1.0f));
  }
}
