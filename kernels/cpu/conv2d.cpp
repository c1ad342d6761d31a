// The fast CPU conv2d: im2col / col2im around a single-threaded Eigen GEMM, parallel over chunks
// of images with OpenMP. A 1x1 stride-1 pad-0 conv needs no im2col: the image is its own column
// matrix.
//
// Determinism: the chunks (and, for the weight gradient, the groups of chunks that each own a
// partial sum) are a function of the shape only. Each chunk's arithmetic is the same whichever
// thread runs it, and the partial weight gradients are added in group order, so the results are
// bitwise identical for any number of threads.
// GCC 12 reports a false "may be used uninitialized" inside Eigen's AVX-512 double transpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/im2col.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

template <class T> using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T> using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <class T> using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <class T> using AlignedVector = std::vector<T, Eigen::aligned_allocator<T>>;

// The weight gradient is summed in at most this many partials (one per group of chunks): enough
// groups to balance a few cores, few enough that the partials stay small.
constexpr int kMaxWeightGroups = 8;
// GEMM columns per chunk to aim for, and the column buffer size not to exceed (about half an L2).
constexpr int64_t kTargetChunkColumns = 512;
constexpr int64_t kMaxColumnBufferBytes = 512 * 1024;
constexpr int kMaxImagesPerChunk = 8;

// Per-thread scratch that grows to the largest request and is reused across calls; aligned so
// that every thread's GEMM sees equally aligned operands.
template <class T>
T* thread_scratch(int slot, int64_t count) {
  static thread_local AlignedVector<T> buffers[3];
  AlignedVector<T>& buffer = buffers[slot];
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(count);
  return buffer.data();
}

bool is_pointwise(const Conv2dShape& sh) { return sh.r == 1 && sh.s == 1 && sh.stride == 1 && sh.pad == 0; }

// Sizes in 64-bit, computed once.
struct Dims {
  int64_t n, c, k, hw, pq, crs;
  explicit Dims(const Conv2dShape& sh)
      : n(sh.n),
        c(sh.c),
        k(sh.k),
        hw(static_cast<int64_t>(sh.h) * sh.w),
        pq(static_cast<int64_t>(sh.p()) * sh.q()),
        crs(static_cast<int64_t>(sh.c) * sh.r * sh.s) {}
};

// The images [first, first + count) of one chunk.
struct Chunk {
  int64_t first, count;
};
inline Chunk chunk_at(const Dims& d, int64_t index, int chunk) {
  const int64_t first = index * chunk;
  return {first, std::min<int64_t>(chunk, d.n - first)};
}
inline int64_t chunk_count(const Dims& d, int chunk) { return (d.n + chunk - 1) / chunk; }

// The column matrix [crs, count * pq] of a chunk, image b in columns [b * pq, (b + 1) * pq).
template <class T>
void chunk_columns(const Conv2dShape& sh, const Dims& d, const T* x, Chunk ch, T* col) {
  const int64_t ld = ch.count * d.pq;
  for (int64_t b = 0; b < ch.count; ++b) detail::im2col(sh, x + (ch.first + b) * d.c * d.hw, col + b * d.pq, ld);
}

// dy of a chunk as one matrix [k, count * pq]: a view for one image, a gathered copy otherwise.
template <class T>
const T* chunk_output_gradient(const Dims& d, const T* dy, Chunk ch, int scratch_slot) {
  const T* first = dy + ch.first * d.k * d.pq;
  if (ch.count == 1) return first;
  const int64_t ld = ch.count * d.pq;
  T* gathered = thread_scratch<T>(scratch_slot, d.k * ld);
  for (int64_t b = 0; b < ch.count; ++b)
    for (int64_t k = 0; k < d.k; ++k)
      std::copy_n(first + (b * d.k + k) * d.pq, d.pq, gathered + k * ld + b * d.pq);
  return gathered;
}

void check_chunk(int chunk, const char* op) { ELR_CHECK(chunk >= 1, "{}: images per chunk {} must be >= 1", op, chunk); }

}  // namespace

namespace detail {

int conv2d_images_per_chunk(const Conv2dShape& sh) {
  // A 1x1 stride-1 conv reads each image in place; copying several into a chunk measured slower.
  if (is_pointwise(sh)) return 1;
  const int64_t pq = static_cast<int64_t>(sh.p()) * sh.q();
  // Sized for float, the training type (a double buffer is twice as large, which only the tests use).
  const int64_t column_bytes = static_cast<int64_t>(sh.c) * sh.r * sh.s * pq * static_cast<int64_t>(sizeof(float));
  int64_t images = std::max<int64_t>(1, kTargetChunkColumns / std::max<int64_t>(pq, 1));
  images = std::min<int64_t>(images, std::max<int64_t>(1, kMaxColumnBufferBytes / std::max<int64_t>(column_bytes, 1)));
  return static_cast<int>(std::clamp<int64_t>(images, 1, kMaxImagesPerChunk));
}

template <class T>
void conv2d_forward_chunked(const Conv2dShape& sh, const T* x, const T* w, T* y, int chunk) {
  check_conv2d_shape(sh, "conv2d_forward_cpu");
  check_chunk(chunk, "conv2d_forward_cpu");
  const Dims d(sh);
  const ConstMatrixMap<T> weight(w, d.k, d.crs);
  if (is_pointwise(sh)) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < d.n; ++n) {
      MatrixMap<T>(y + n * d.k * d.pq, d.k, d.pq).noalias() = weight * ConstMatrixMap<T>(x + n * d.c * d.hw, d.c, d.hw);
    }
    return;
  }
  const int64_t chunks = chunk_count(d, chunk);
#pragma omp parallel for schedule(static)
  for (int64_t index = 0; index < chunks; ++index) {
    const Chunk ch = chunk_at(d, index, chunk);
    const int64_t cols = ch.count * d.pq;
    T* col = thread_scratch<T>(0, d.crs * cols);
    chunk_columns(sh, d, x, ch, col);
    const ConstMatrixMap<T> columns(col, d.crs, cols);
    T* y_first = y + ch.first * d.k * d.pq;
    if (ch.count == 1) {
      MatrixMap<T>(y_first, d.k, d.pq).noalias() = weight * columns;
      continue;
    }
    T* out = thread_scratch<T>(1, d.k * cols);
    MatrixMap<T>(out, d.k, cols).noalias() = weight * columns;
    for (int64_t b = 0; b < ch.count; ++b)  // [k, count * pq] -> count images of [k, pq]
      for (int64_t k = 0; k < d.k; ++k) std::copy_n(out + k * cols + b * d.pq, d.pq, y_first + (b * d.k + k) * d.pq);
  }
}

template <class T>
void conv2d_backward_data_chunked(const Conv2dShape& sh, const T* dy, const T* w, T* dx, int chunk) {
  check_conv2d_shape(sh, "conv2d_backward_data_cpu");
  check_chunk(chunk, "conv2d_backward_data_cpu");
  const Dims d(sh);
  const ConstMatrixMap<T> weight(w, d.k, d.crs);
  if (is_pointwise(sh)) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < d.n; ++n) {
      MatrixMap<T>(dx + n * d.c * d.hw, d.c, d.hw).noalias() =
          weight.transpose() * ConstMatrixMap<T>(dy + n * d.k * d.pq, d.k, d.pq);
    }
    return;
  }
  const int64_t chunks = chunk_count(d, chunk);
#pragma omp parallel for schedule(static)
  for (int64_t index = 0; index < chunks; ++index) {
    const Chunk ch = chunk_at(d, index, chunk);
    const int64_t cols = ch.count * d.pq;
    const ConstMatrixMap<T> grad_out(chunk_output_gradient(d, dy, ch, 1), d.k, cols);
    T* col = thread_scratch<T>(0, d.crs * cols);
    MatrixMap<T>(col, d.crs, cols).noalias() = weight.transpose() * grad_out;
    T* dx_first = dx + ch.first * d.c * d.hw;
    std::fill(dx_first, dx_first + ch.count * d.c * d.hw, T(0));
    for (int64_t b = 0; b < ch.count; ++b) detail::col2im_add(sh, col + b * d.pq, cols, dx_first + b * d.c * d.hw);
  }
}

template <class T>
void conv2d_backward_weight_chunked(const Conv2dShape& sh, const T* x, const T* dy, T* dw, int chunk) {
  check_conv2d_shape(sh, "conv2d_backward_weight_cpu");
  check_chunk(chunk, "conv2d_backward_weight_cpu");
  const Dims d(sh);
  const int64_t chunks = chunk_count(d, chunk);
  const int64_t groups = std::min<int64_t>(chunks, kMaxWeightGroups);
  const int64_t weight_size = d.k * d.crs;
  // One group writes straight into dw; several write partials that are added in group order.
  AlignedVector<T> partials(groups > 1 ? groups * weight_size : 0);
  const bool pointwise = is_pointwise(sh);
#pragma omp parallel for schedule(static)
  for (int64_t g = 0; g < groups; ++g) {
    MatrixMap<T> partial(groups > 1 ? partials.data() + g * weight_size : dw, d.k, d.crs);
    const int64_t begin = g * chunks / groups, end = (g + 1) * chunks / groups;
    for (int64_t index = begin; index < end; ++index) {
      const Chunk ch = chunk_at(d, index, chunk);
      const int64_t cols = ch.count * d.pq;
      const T* col;
      if (pointwise && ch.count == 1) {
        col = x + ch.first * d.c * d.hw;  // the image is its own column matrix
      } else {
        T* buffer = thread_scratch<T>(0, d.crs * cols);
        chunk_columns(sh, d, x, ch, buffer);
        col = buffer;
      }
      const ConstMatrixMap<T> columns(col, d.crs, cols);
      const ConstMatrixMap<T> grad_out(chunk_output_gradient(d, dy, ch, 1), d.k, cols);
      if (index == begin) {
        partial.noalias() = grad_out * columns.transpose();
      } else {
        partial.noalias() += grad_out * columns.transpose();
      }
    }
  }
  if (groups == 1) return;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < weight_size; ++i) {
    T sum = partials[i];
    for (int64_t g = 1; g < groups; ++g) sum += partials[g * weight_size + i];
    dw[i] = sum;
  }
}

}  // namespace detail

template <class T>
void conv2d_forward_cpu(const Conv2dShape& sh, const T* x, const T* w, T* y) {
  check_conv2d_shape(sh, "conv2d_forward_cpu");
  if constexpr (std::is_same_v<T, float>) {
    if (detail::conv2d_direct_supported(sh)) return detail::conv2d_forward_direct(sh, x, w, y);
  }
  detail::conv2d_forward_chunked(sh, x, w, y, detail::conv2d_images_per_chunk(sh));
}
template <class T>
void conv2d_backward_data_cpu(const Conv2dShape& sh, const T* dy, const T* w, T* dx) {
  check_conv2d_shape(sh, "conv2d_backward_data_cpu");
  if constexpr (std::is_same_v<T, float>) {
    if (detail::conv2d_direct_supported(sh)) return detail::conv2d_backward_data_direct(sh, dy, w, dx);
  }
  detail::conv2d_backward_data_chunked(sh, dy, w, dx, detail::conv2d_images_per_chunk(sh));
}
template <class T>
void conv2d_backward_weight_cpu(const Conv2dShape& sh, const T* x, const T* dy, T* dw) {
  check_conv2d_shape(sh, "conv2d_backward_weight_cpu");
  if constexpr (std::is_same_v<T, float>) {
    if (detail::conv2d_direct_weight_grad_supported(sh)) return detail::conv2d_backward_weight_direct(sh, x, dy, dw);
  }
  detail::conv2d_backward_weight_chunked(sh, x, dy, dw, detail::conv2d_images_per_chunk(sh));
}

#define ELR_INSTANTIATE_CONV2D(T)                                                                    \
  template void conv2d_forward_cpu<T>(const Conv2dShape&, const T*, const T*, T*);                   \
  template void conv2d_backward_data_cpu<T>(const Conv2dShape&, const T*, const T*, T*);             \
  template void conv2d_backward_weight_cpu<T>(const Conv2dShape&, const T*, const T*, T*);           \
  template void detail::conv2d_forward_chunked<T>(const Conv2dShape&, const T*, const T*, T*, int);  \
  template void detail::conv2d_backward_data_chunked<T>(const Conv2dShape&, const T*, const T*, T*, int); \
  template void detail::conv2d_backward_weight_chunked<T>(const Conv2dShape&, const T*, const T*, T*, int);
ELR_INSTANTIATE_CONV2D(float)
ELR_INSTANTIATE_CONV2D(double)
#undef ELR_INSTANTIATE_CONV2D

}  // namespace elr::kernels
