// The CUDA backend's runtime layer (engine/cuda), linked here against the CPU layer's runtime API:
// the caching allocator, streams, events and error checks run without a GPU.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/runtime.h"
#include "engine/error.h"

using namespace elr::cuda;

TEST_CASE("caching allocator reuses blocks of the same size class", "[simt][cuda_runtime]") {
  CHECK(CachingAllocator::size_class(1) == 512);
  CHECK(CachingAllocator::size_class(513) == 1024);
  CHECK(CachingAllocator::size_class((1 << 20) + 1) == (2u << 20));
  CHECK(CachingAllocator::size_class((100u << 20) + 1) == (102u << 20));
  CachingAllocator alloc;
  void* a = alloc.allocate(1000);
  CHECK(alloc.bytes_in_use() == 1024);
  alloc.deallocate(a);
  CHECK(alloc.bytes_in_use() == 0);
  CHECK(alloc.bytes_cached() == 1024);
  void* b = alloc.allocate(700);  // same class: the cached block comes back
  CHECK(b == a);
  void* c = alloc.allocate(5000);  // another class: a new block
  CHECK(c != a);
  alloc.deallocate(b);
  alloc.deallocate(c);
  alloc.release_cached();
  CHECK(alloc.bytes_cached() == 0);
  int on_stack = 0;
  CHECK_THROWS_AS(alloc.deallocate(&on_stack), elr::Error);
}

TEST_CASE("a graph pool serves a capture from the cache and keeps its blocks until released",
          "[simt][cuda_runtime]") {
  CachingAllocator alloc;
  void* a = alloc.allocate(1000);  // the warm-up step's blocks, cached when it ends
  void* b = alloc.allocate(3000);
  alloc.deallocate(a);
  alloc.deallocate(b);
  const int pool = alloc.begin_graph_pool();
  void* c = alloc.allocate(900);  // from the cache (same class as a)
  CHECK(c == a);
  CHECK_THROWS_AS(alloc.allocate(100000), GraphPoolMiss);  // no cached block: never cudaMalloc
  alloc.deallocate(c);
  void* d = alloc.allocate(1000);  // the pool's own free block comes back first
  CHECK(d == a);
  alloc.end_graph_pool();
  CHECK(alloc.graph_pool_bytes(pool) == 1024);
  void* e = alloc.allocate(1000);  // outside the capture: never the graph's block
  CHECK(e != a);
  alloc.deallocate(d);             // back to the pool, still reserved
  void* f = alloc.allocate(1000);
  CHECK(f != a);
  alloc.release_graph_pool(pool);  // the graph is gone
  CHECK(alloc.graph_pool_bytes(pool) == 0);
  void* g = alloc.allocate(1000);
  CHECK(g == a);
  for (void* p : {e, f, g}) alloc.deallocate(p);
  alloc.release_cached();
  CHECK(alloc.bytes_in_use() == 0);
  CHECK(alloc.bytes_cached() == 0);
}

TEST_CASE("CUDA error checks name the call, site and error string", "[simt][cuda_runtime]") {
  try {
    ELR_CUDA_CHECK(cudaFree(reinterpret_cast<void*>(0x1234)));
    FAIL("no error thrown");
  } catch (const elr::Error& e) {
    std::string what = e.what();
    CHECK(what.find("cudaFree(reinterpret_cast<void*>(0x1234))") != std::string::npos);
    CHECK(what.find("cudaErrorInvalidValue") != std::string::npos);
    CHECK(what.find("test_cuda_runtime.cpp:") != std::string::npos);
  }
  cudaGetLastError();
}

TEST_CASE("streams, events, pinned buffers and copies round-trip data", "[simt][cuda_runtime]") {
  CHECK(device_count() == 1);
  CHECK(no_device_reason().empty());
  REQUIRE(devices().size() == 1);
  Stream stream;
  Event start, stop;
  start.record(stream.get());
  const size_t n = 300;
  PinnedBuffer host(n * sizeof(float));
  float* h = static_cast<float*>(host.data());
  for (size_t i = 0; i < n; ++i) h[i] = float(i) * 0.5f;
  void* d1 = device_allocator().allocate(n * sizeof(float));
  void* d2 = device_allocator().allocate(n * sizeof(float));
  copy_to_device(d1, h, n * sizeof(float), stream.get());
  copy_on_device(d2, d1, n * sizeof(float), stream.get());
  std::vector<float> back(n, -1.0f);
  copy_to_host(back.data(), d2, n * sizeof(float), stream.get());
  stop.record(stream.get());
  stop.synchronize();
  CHECK(stop.elapsed_ms_since(start) >= 0.0f);
  for (size_t i = 0; i < n; ++i) REQUIRE(back[i] == float(i) * 0.5f);
  device_allocator().deallocate(d1);
  device_allocator().deallocate(d2);
  Stream moved = std::move(stream);
  moved.synchronize();
  CHECK(stream.get() == nullptr);
}
