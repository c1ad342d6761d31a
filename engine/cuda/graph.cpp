#include "engine/cuda/graph.h"

#include <fmt/format.h>

#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace elr::cuda {

namespace {
int g_capture_pool = 0;  // the pool of the capture in progress (one at a time)
}

Graph::~Graph() {
  cudaGraphExecDestroy(exec_);
  device_allocator().release_graph_pool(pool_);
}

void Graph::launch(cudaStream_t stream) const { ELR_CUDA_CHECK(cudaGraphLaunch(exec_, stream)); }

void begin_capture(cudaStream_t stream) {
  ELR_CHECK(g_capture_pool == 0, "begin_capture: a capture is already in progress");
  if (sync_debug())
    throw Error("CUDA graph: ELR_CUDA_SYNC_DEBUG=1 synchronizes after every launch, which a capture forbids");
  g_capture_pool = device_allocator().begin_graph_pool();
  const cudaError_t e = cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal);
  if (e != cudaSuccess) {
    cudaGetLastError();
    device_allocator().release_graph_pool(g_capture_pool);
    g_capture_pool = 0;
    throw Error(fmt::format("CUDA graph: cannot start a capture: {}", cudaGetErrorString(e)));
  }
}

Graph* end_capture(cudaStream_t stream) {
  const int pool = g_capture_pool;
  g_capture_pool = 0;
  device_allocator().end_graph_pool();
  cudaGraph_t graph = nullptr;
  cudaError_t e = cudaStreamEndCapture(stream, &graph);
  cudaGraphExec_t exec = nullptr;
  if (e == cudaSuccess) {
    e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    device_allocator().release_graph_pool(pool);
    throw Error(fmt::format("CUDA graph: the capture failed: {}", cudaGetErrorString(e)));
  }
  return new Graph(exec, pool);
}

void abort_capture(cudaStream_t stream) {
  if (g_capture_pool == 0) return;
  const int pool = g_capture_pool;
  g_capture_pool = 0;
  device_allocator().end_graph_pool();
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t graph = nullptr;
    cudaStreamEndCapture(stream, &graph);
    if (graph) cudaGraphDestroy(graph);
  }
  cudaGetLastError();
  device_allocator().release_graph_pool(pool);
}

}  // namespace elr::cuda
