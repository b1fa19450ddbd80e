// col_moments: per gene sum of f, sum of f^2 and count of f > 0, with
// f = x, or expm1(x), then min(f, clip[g]); float64, added to device arrays.
//
// Deterministic: block b of a fixed-size grid takes rows b, b + B, b + 2B, ...
// one at a time (a row holds each gene once, so its values go to distinct
// genes) and adds them, in row order, into its own partial per gene in global
// memory; a second kernel sums the B partials of each gene in block order.
// The grid size depends only on the shard's shape, so the same shard gives
// bit-identical sums on every run and every GPU model.
#include <algorithm>

#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"
#include "pipeline_device.h"

namespace cellshard {

namespace {

// One sector (32 bytes) per gene and block: one read-modify-write per value.
struct __align__(32) Moment {
  double sum;
  double sum_sq;
  long long n_positive;
  long long unused;
};

constexpr int kMaxPartials = 512;
constexpr size_t kPartialBudget = size_t(256) << 20;  // bytes for all partials
// A block works on one row at a time, so its width is what keeps loads in
// flight: with 256 threads a 2,000-value row took 8 dependent rounds of
// read-modify-write, and the kernel waited on memory latency.
constexpr int kPartialThreads = 1024;

__global__ void moments_partial_kernel(int64_t n_rows, int64_t n_cols,
                                       const int64_t* __restrict__ indptr,
                                       const int32_t* __restrict__ indices,
                                       const float* __restrict__ values, bool use_expm1,
                                       const double* __restrict__ clip, Moment* partials) {
  Moment* mine = partials + int64_t(blockIdx.x) * n_cols;
  for (int64_t r = blockIdx.x; r < n_rows; r += gridDim.x) {
    const int64_t begin = indptr[r], end = indptr[r + 1];
    for (int64_t k = begin + threadIdx.x; k < end; k += blockDim.x) {
      double f = double(values[k]);
      if (use_expm1) f = expm1(f);
      const int32_t g = indices[k];
      if (clip && clip[g] < f) f = clip[g];  // std::min(f, clip[g])
      if (f == 0.0) continue;  // adds nothing
      Moment& m = mine[g];
      m.sum += f;
      m.sum_sq = __dadd_rn(m.sum_sq, __dmul_rn(f, f));  // no fused multiply-add, as on the host
      m.n_positive += f > 0.0;
    }
    // The next row may hold the same genes in other threads.
    __syncthreads();
  }
}

__global__ void moments_reduce_kernel(int64_t n_cols, int n_partials,
                                      const Moment* __restrict__ partials, double* sum,
                                      double* sum_sq, double* n_positive) {
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < n_cols;
       g += int64_t(gridDim.x) * blockDim.x) {
    double s = 0.0, ss = 0.0;
    long long n = 0;
    for (int b = 0; b < n_partials; ++b) {
      const Moment& m = partials[int64_t(b) * n_cols + g];
      s += m.sum;
      ss += m.sum_sq;
      n += m.n_positive;
    }
    if (sum) sum[g] += s;
    if (sum_sq) sum_sq[g] += ss;
    if (n_positive) n_positive[g] += double(n);
  }
}

}  // namespace

void col_moments_on_device(const CsrView& a, const float* values, const MomentOptions& options,
                           ColumnMoments out) {
  if (a.nnz == 0 || a.n_cols == 0 || a.n_rows == 0) return;  // nothing to add
  CS_CHECK(values != nullptr, "internal: col_moments without values");
  const DeviceContext& ctx = use_device(a.device);
  const size_t n = size_t(a.n_cols);
  const int64_t by_memory = int64_t(kPartialBudget / (n * sizeof(Moment)));
  const int n_partials =
      int(std::max<int64_t>(1, std::min<int64_t>({kMaxPartials, by_memory, a.n_rows})));

  BufferPtr clip = upload_array(a.device, options.clip, n);
  BufferPtr partials = make_buffer(a.device, size_t(n_partials) * n * sizeof(Moment));
  CS_CUDA_CHECK(cudaMemsetAsync(partials->data(), 0, partials->bytes(), ctx.stream));
  moments_partial_kernel<<<n_partials, kPartialThreads, 0, ctx.stream>>>(
      a.n_rows, a.n_cols, a.indptr, a.indices, values, options.expm1, device_ptr<double>(clip),
      partials->as<Moment>());
  CS_CUDA_CHECK_LAUNCH("moments_partial_kernel");

  moments_reduce_kernel<<<grid_blocks(ctx, a.n_cols, kBlockThreads), kBlockThreads, 0,
                          ctx.stream>>>(a.n_cols, n_partials, partials->as<Moment>(), out.sum,
                                        out.sum_sq, out.n_positive);
  CS_CUDA_CHECK_LAUNCH("moments_reduce_kernel");
  synchronize(ctx);
}

}  // namespace cellshard
