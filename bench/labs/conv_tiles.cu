// Conv tile lab: numbered tile variants of the implicit-GEMM conv kernels (kernels/cuda/gemm_tiles.h)
// on the ResNet/VGG CIFAR layer shapes, each validated against the CPU conv before it is timed,
// next to the library's own choice (Auto), its TF32 tensor-core path (validated at 1e-2) and cuDNN
// (FP32 FMA math, deterministic algorithms).
//   elr_lab_conv_tiles [--repeats N] [--batch N] [--json FILE]
// Times: CUDA events on one stream, L2 flushed before every repeat, median and min over repeats.
// Every row is also printed as a `LABJSON {...}` line (bench/labs/lab_timing.h's format, GB/s over
// x, w and y each moved once), which scripts/gpu-check.sh collects. Exits 77 (skipped) without a GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/cuda/conv_common.h"
#include "kernels/cudnn_glue.h"
#include "kernels/kernels.h"

namespace {

using namespace elr::kernels;
namespace gemm = elr::kernels::gemm;
namespace conv = elr::kernels::conv;

enum class Pass { Forward, BackwardData, BackwardWeight };
const char* pass_name(Pass p) {
  return p == Pass::Forward ? "fwd" : p == Pass::BackwardData ? "bwd-data" : "bwd-weight";
}

struct Buffer {
  float* ptr = nullptr;
  size_t count = 0;
  explicit Buffer(size_t n) : count(n) {
    ELR_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr), n * sizeof(float)));
  }
  ~Buffer() { cudaFree(ptr); }
  // On the stream the kernels use: it is non-blocking, so a legacy-stream cudaMemcpy (which may
  // return before the data lands) would not be ordered before them.
  void upload(const std::vector<float>& h, Stream s) {
    ELR_CUDA_CHECK(cudaMemcpyAsync(ptr, h.data(), count * sizeof(float), cudaMemcpyHostToDevice, s));
    ELR_CUDA_CHECK(cudaStreamSynchronize(s));  // h is pageable and may go away
  }
  std::vector<float> download() const {
    std::vector<float> h(count);
    ELR_CUDA_CHECK(cudaDeviceSynchronize());
    ELR_CUDA_CHECK(cudaMemcpy(h.data(), ptr, count * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
  }
};

// The weight gradients' split-K scratch, grown to the largest request (one launch at a time here).
Workspace workspace_for(size_t bytes) {
  static std::unique_ptr<Buffer> buffer;
  if (bytes == 0) return {};
  if (!buffer || buffer->count * sizeof(float) < bytes) buffer = std::make_unique<Buffer>((bytes + 3) / sizeof(float));
  return {buffer->ptr, buffer->count * sizeof(float)};
}

// Variant n launches pass p with tile configuration C (the weight gradient split as the library does).
template <class C>
void run_variant(Pass pass, const Conv2dShape& sh, const float* a, const float* b, float* out, Stream s) {
  switch (pass) {
    case Pass::Forward: gemm::launch_gemm<C>(conv::forward_problem(sh, a, b, out), 1, Workspace{}, s); break;
    case Pass::BackwardData:  // one GEMM per stride phase, as the library
      for (int h0 = 0; h0 < sh.stride; ++h0)
        for (int w0 = 0; w0 < sh.stride; ++w0) {
          const auto p = conv::backward_data_problem(sh, a, b, out, h0, w0);
          if (p.n > 0) gemm::launch_gemm<C>(p, 1, Workspace{}, s);
        }
      break;
    case Pass::BackwardWeight: {
      const auto p = conv::backward_weight_problem(sh, a, b, out);
      const int splits = gemm::choose_splits<C>(p.m, p.n, p.kdim);
      gemm::launch_gemm<C>(p, splits, workspace_for(gemm::split_workspace_bytes<C>(p.m, p.n, p.kdim, splits)), s);
      break;
    }
  }
}

struct Variant {
  const char* name;
  void (*run)(Pass, const Conv2dShape&, const float*, const float*, float*, Stream);
};
const Variant kVariants[] = {
    {"v1 32x32x16 t2x2", run_variant<gemm::Tiles32>},
    {"v2 64x64x16 t4x4", run_variant<gemm::Tiles64>},
    {"v3 128x128x8 t8x8", run_variant<gemm::Tiles128>},
    {"v4 64x64x8 t4x4", run_variant<gemm::TileConfig<64, 64, 8, 4, 4>>},
    {"v5 128x64x8 t8x4", run_variant<gemm::TileConfig<128, 64, 8, 8, 4>>},
    {"v6 64x32x16 t4x2", run_variant<gemm::TileConfig<64, 32, 16, 4, 2>>},
};

std::vector<float> random_values(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// max |got - want| / max |want|: the kernels sum in another order than the CPU path.
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double err = 0.0, scale = 1e-30;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs(double(got[i]) - want[i]);
    err = std::isnan(e) ? INFINITY : std::max(err, e);
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  return err / scale;
}

struct Timing {
  double median_ms = NAN, min_ms = NAN;
};

Timing time_it(const std::function<void()>& launch, int repeats, Stream s, Buffer& flush) {
  cudaEvent_t start, stop;
  ELR_CUDA_CHECK(cudaEventCreate(&start));
  ELR_CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < 3; ++i) launch();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    ELR_CUDA_CHECK(cudaMemsetAsync(flush.ptr, i & 0xff, flush.count * sizeof(float), s));
    ELR_CUDA_CHECK(cudaEventRecord(start, s));
    launch();
    ELR_CUDA_CHECK(cudaEventRecord(stop, s));
    ELR_CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0;
    ELR_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 20, batch = 128;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) batch = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
  }
  if (elr::cuda::device_count() == 0) {
    std::printf("skipped: %s\n", elr::cuda::no_device_reason().c_str());
    return 77;
  }
  const auto dev = elr::cuda::devices().front();
  std::printf("# conv tile lab on %s (sm_%d%d), batch %d, %d repeats, times in us (median / min)\n",
              dev.name.c_str(), dev.major, dev.minor, batch, repeats);

  // n, c, h, w, k, r, s, stride, pad: ResNet-20/56 CIFAR layers, their shortcuts, and VGG's.
  const std::vector<Conv2dShape> shapes = {
      {batch, 3, 32, 32, 16, 3, 3, 1, 1},   {batch, 16, 32, 32, 16, 3, 3, 1, 1}, {batch, 16, 32, 32, 32, 3, 3, 2, 1},
      {batch, 32, 16, 16, 32, 3, 3, 1, 1},  {batch, 32, 16, 16, 64, 3, 3, 2, 1}, {batch, 64, 8, 8, 64, 3, 3, 1, 1},
      {batch, 16, 32, 32, 32, 1, 1, 2, 0},  {batch, 32, 16, 16, 64, 1, 1, 2, 0}, {batch, 64, 32, 32, 64, 3, 3, 1, 1},
      {batch, 128, 16, 16, 128, 3, 3, 1, 1}, {batch, 256, 8, 8, 256, 3, 3, 1, 1}, {batch, 512, 4, 4, 512, 3, 3, 1, 1},
  };

  elr::cuda::Stream stream;
  const Stream s = reinterpret_cast<Stream>(stream.get());
  elr::vendor::Cudnn cudnn(s);
  Buffer flush(size_t(64) << 20);  // 256 MiB: larger than any L2
  std::FILE* json = json_path.empty() ? nullptr : std::fopen(json_path.c_str(), "w");
  if (json) std::fprintf(json, "{\"device\": \"%s\", \"batch\": %d, \"results\": [\n", dev.name.c_str(), batch);
  bool first_row = true, all_valid = true;

  for (const Conv2dShape& sh : shapes) {
    const size_t nx = size_t(sh.n) * sh.c * sh.h * sh.w, nw = size_t(sh.k) * sh.c * sh.r * sh.s,
                 ny = size_t(sh.n) * sh.k * sh.p() * sh.q();
    const auto hx = random_values(nx, 1), hw = random_values(nw, 2), hdy = random_values(ny, 3);
    Buffer x(nx), w(nw), dy(ny), out_x(nx), out_w(nw), out_y(ny);
    x.upload(hx, s), w.upload(hw, s), dy.upload(hdy, s);
    for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight}) {
      // The CPU reference of this pass.
      std::vector<float> want(pass == Pass::Forward ? ny : pass == Pass::BackwardData ? nx : nw);
      const float *a = nullptr, *b = nullptr;
      Buffer* out = nullptr;
      switch (pass) {
        case Pass::Forward:
          conv2d_forward_cpu(sh, hx.data(), hw.data(), want.data());
          a = x.ptr, b = w.ptr, out = &out_y;
          break;
        case Pass::BackwardData:
          conv2d_backward_data_cpu(sh, hdy.data(), hw.data(), want.data());
          a = dy.ptr, b = w.ptr, out = &out_x;
          break;
        case Pass::BackwardWeight:
          conv2d_backward_weight_cpu(sh, hx.data(), hdy.data(), want.data());
          a = x.ptr, b = dy.ptr, out = &out_w;
          break;
      }
      std::printf("\n## %s x[%d,%d,%d,%d] w[%d,%d,%d,%d] stride %d\n", pass_name(pass), sh.n, sh.c, sh.h, sh.w, sh.k,
                  sh.c, sh.r, sh.s, sh.stride);
      const double flop = 2.0 * double(sh.n) * sh.k * sh.p() * sh.q() * sh.c * sh.r * sh.s;

      const std::string shape = std::string(pass_name(pass)) + " n=" + std::to_string(sh.n) + ",c=" +
                                std::to_string(sh.c) + ",hw=" + std::to_string(sh.h) + "x" + std::to_string(sh.w) +
                                ",k=" + std::to_string(sh.k) + ",r=" + std::to_string(sh.r) + ",stride=" +
                                std::to_string(sh.stride);
      const double bytes = 4.0 * double(nx + nw + ny);
      auto labjson = [&](const char* name, bool valid, double err, double ms) {
        std::printf("LABJSON {\"lab\":\"conv_tiles\",\"variant\":\"%s\",\"shape\":\"%s\",\"valid\":%s,"
                    "\"max_error\":%.3e,\"ms\":%.6f,\"gbps\":%.2f}\n",
                    name, shape.c_str(), valid ? "true" : "false", err, ms, ms > 0 ? bytes / (ms * 1e-3) / 1e9 : 0.0);
      };
      auto report = [&](const char* name, const std::function<void()>& launch, double tolerance = 1e-4) {
        ELR_CUDA_CHECK(cudaMemsetAsync(out->ptr, 0xff, out->count * sizeof(float), s));  // NaN
        launch();
        const double err = relative_error(out->download(), want);
        if (!(err < tolerance)) {
          std::printf("| %-20s | INVALID: relative error %.3g |\n", name, err);
          labjson(name, false, err, 0);
          all_valid = false;
          return;
        }
        const Timing t = time_it(launch, repeats, s, flush);
        labjson(name, true, err, t.median_ms);
        std::printf("| %-20s | %9.1f | %9.1f | %6.2f TFLOP/s | err %.1e |\n", name, t.median_ms * 1e3, t.min_ms * 1e3,
                    flop / (t.min_ms * 1e-3) / 1e12, err);
        if (json) {
          std::fprintf(json,
                       "%s  {\"pass\": \"%s\", \"n\": %d, \"c\": %d, \"h\": %d, \"w\": %d, \"k\": %d, \"r\": %d, "
                       "\"stride\": %d, \"kernel\": \"%s\", \"median_us\": %.2f, \"min_us\": %.2f}",
                       first_row ? "" : ",\n", pass_name(pass), sh.n, sh.c, sh.h, sh.w, sh.k, sh.r, sh.stride, name,
                       t.median_ms * 1e3, t.min_ms * 1e3);
          first_row = false;
        }
      };
      for (const Variant& v : kVariants) report(v.name, [&] { v.run(pass, sh, a, b, out->ptr, s); });
      report("library (auto)", [&] {
        switch (pass) {
          case Pass::Forward: conv2d_forward_cuda(sh, a, b, out->ptr, s); break;
          case Pass::BackwardData: conv2d_backward_data_cuda(sh, a, b, out->ptr, s); break;
          case Pass::BackwardWeight:
            conv2d_backward_weight_cuda(sh, a, b, out->ptr,
                                        workspace_for(conv2d_backward_weight_workspace_bytes(sh)), s);
            break;
        }
      });
      set_cuda_conv_tf32(true);
      report("library tf32", [&] {
        switch (pass) {
          case Pass::Forward: conv2d_forward_cuda(sh, a, b, out->ptr, s); break;
          case Pass::BackwardData: conv2d_backward_data_cuda(sh, a, b, out->ptr, s); break;
          case Pass::BackwardWeight:
            conv2d_backward_weight_cuda(sh, a, b, out->ptr,
                                        workspace_for(conv2d_backward_weight_workspace_bytes(sh)), s);
            break;
        }
      }, 1e-2);
      set_cuda_conv_tf32(false);
      report("cuDNN fp32", [&] {
        switch (pass) {
          case Pass::Forward: cudnn.conv2d_forward(sh, a, b, out->ptr); break;
          case Pass::BackwardData: cudnn.conv2d_backward_data(sh, a, b, out->ptr); break;
          case Pass::BackwardWeight: cudnn.conv2d_backward_weight(sh, a, b, out->ptr); break;
        }
      });
    }
  }
  if (json) {
    std::fprintf(json, "\n]}\n");
    std::fclose(json);
  }
  return all_valid ? 0 : 1;
}
