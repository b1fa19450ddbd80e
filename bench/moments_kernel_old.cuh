// The col_moments kernel as it was before issue 8's rewrite (main at
// 1f3dcb7, src/cuda/moments_kernels.cu), kept for bench/moments_kernel.cu to
// time against: float64 sums in shared memory over 2,048-gene ranges, rows
// added one warp at a time, a second kernel summing the tiles. Included
// once, by the bench; its entry point is old_col_moments.
#include <algorithm>

#include "../src/core/errors.h"
#include "../src/cuda/cuda_check.h"
#include "../src/cuda/device_context.h"
#include "../src/cuda/pipeline_device.h"
#include "../src/cuda/warp_primitives.cuh"

namespace cellshard {

namespace {

// Partial sums of one gene over one tile of rows.
struct Moment {
  double sum;
  double sum_sq;
  long long n_positive;
};

constexpr int kRangeGenes = 2048;     // shared memory: 2,048 x 20 bytes a block
constexpr int kMomentWarps = 16;      // rows in flight a block
constexpr int kEntriesPerLane = 4;    // a row's entries in a range held in registers
constexpr int kMaxTiles = 512;
constexpr size_t kPartialBudget = size_t(256) << 20;  // bytes for all tiles' partials

// First position in [lo, hi) whose gene is >= key (hi when none), found by
// the 32 lanes probing 32 evenly spaced entries a round. All lanes call it
// with the same arguments and get the same answer.
__device__ int64_t warp_lower_bound(const int32_t* __restrict__ indices, int64_t lo, int64_t hi,
                                    int32_t key) {
  const int lane = lane_id();
  // Invariant: the answer lies in [lo, hi].
  while (hi - lo > 32) {
    const int64_t step = (hi - lo + 31) / 32;
    const int64_t p = lo + int64_t(lane) * step;
    const bool below = p < hi && indices[p] < key;
    const int c = __popc(__ballot_sync(kFullWarp, below));  // probes below key: a prefix
    const int64_t new_lo = c == 0 ? lo : lo + int64_t(c - 1) * step + 1;
    const int64_t probe_c = lo + int64_t(c) * step;
    hi = (c < 32 && probe_c < hi) ? probe_c : hi;
    lo = new_lo;
  }
  const int64_t p = lo + lane;
  const bool below = p < hi && indices[p] < key;
  return lo + __popc(__ballot_sync(kFullWarp, below));
}

__device__ __forceinline__ double moment_value(float x, bool use_expm1, const double* clip,
                                               int32_t g) {
  double f = double(x);
  if (use_expm1) f = expm1(f);
  if (clip && clip[g] < f) f = clip[g];  // std::min(f, clip[g])
  return f;
}

__device__ __forceinline__ void add_moment(double* sum, double* sum_sq, unsigned* n_positive,
                                           int slot, double f) {
  if (f == 0.0) return;  // adds nothing
  sum[slot] += f;
  sum_sq[slot] = __dadd_rn(sum_sq[slot], __dmul_rn(f, f));  // no fused multiply-add, as on the host
  n_positive[slot] += f > 0.0;
}

// Grid: (tiles, ranges). Block (t, r) adds rows [t * tile_rows, ...) over
// genes [r * kRangeGenes, ...) into partials[t * n_cols + g].
__global__ void __launch_bounds__(kMomentWarps * 32)
moments_tile_kernel(int64_t n_rows, int64_t n_cols, int64_t tile_rows,
                    const int64_t* __restrict__ indptr, const int32_t* __restrict__ indices,
                    const float* __restrict__ values, bool use_expm1,
                    const double* __restrict__ clip, Moment* __restrict__ partials) {
  __shared__ double sum[kRangeGenes];
  __shared__ double sum_sq[kRangeGenes];
  __shared__ unsigned n_positive[kRangeGenes];
  const int32_t g0 = int32_t(int64_t(blockIdx.y) * kRangeGenes);
  const int32_t g1 = int32_t(min(int64_t(g0) + kRangeGenes, n_cols));
  for (int i = threadIdx.x; i < kRangeGenes; i += blockDim.x) {
    sum[i] = 0.0;
    sum_sq[i] = 0.0;
    n_positive[i] = 0;
  }
  const int warp = int(threadIdx.x >> 5), lane = lane_id();
  const int64_t r_begin = int64_t(blockIdx.x) * tile_rows;
  const int64_t r_end = min(n_rows, r_begin + tile_rows);
  for (int64_t base = r_begin; base < r_end; base += kMomentWarps) {
    // Each warp finds and loads its row's entries in the range.
    const int64_t r = base + warp;
    int64_t k = 0, end = 0;
    int count = 0;
    int32_t genes[kEntriesPerLane];
    double f[kEntriesPerLane];
    if (r < r_end) {
      const int64_t row_end = indptr[r + 1];
      k = warp_lower_bound(indices, indptr[r], row_end, g0);
      end = g1 == n_cols ? row_end : warp_lower_bound(indices, k, row_end, g1);
#pragma unroll
      for (int e = 0; e < kEntriesPerLane; ++e) {
        const int64_t p = k + int64_t(e) * 32 + lane;
        genes[e] = p < end ? indices[p] : -1;
        f[e] = p < end ? moment_value(values[p], use_expm1, clip, genes[e]) : 0.0;
      }
      count = int(min(end - k, int64_t(kEntriesPerLane) * 32));
    }
    __syncthreads();  // the shared sums are initialised / the previous rows added
    // Then the rows are added in row order, one warp at a time.
    for (int w = 0; w < kMomentWarps; ++w) {
      if (warp == w && r < r_end) {
#pragma unroll
        for (int e = 0; e < kEntriesPerLane; ++e)
          if (genes[e] >= 0) add_moment(sum, sum_sq, n_positive, genes[e] - g0, f[e]);
        // A row with more entries in the range than the registers hold.
        for (int64_t p = k + count + lane; p < end; p += 32) {
          const int32_t g = indices[p];
          add_moment(sum, sum_sq, n_positive, g - g0, moment_value(values[p], use_expm1, clip, g));
        }
      }
      __syncthreads();
    }
  }
  __syncthreads();  // a tile past the last row added nothing: its zeros must be seen too
  Moment* mine = partials + int64_t(blockIdx.x) * n_cols;
  for (int32_t g = g0 + int32_t(threadIdx.x); g < g1; g += int32_t(blockDim.x)) {
    const int i = g - g0;
    mine[g] = Moment{sum[i], sum_sq[i], (long long)n_positive[i]};
  }
}

__global__ void moments_reduce_kernel(int64_t n_cols, int n_tiles,
                                      const Moment* __restrict__ partials, double* sum,
                                      double* sum_sq, double* n_positive) {
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < n_cols;
       g += int64_t(gridDim.x) * blockDim.x) {
    double s = 0.0, ss = 0.0;
    long long n = 0;
    for (int t = 0; t < n_tiles; ++t) {
      const Moment& m = partials[int64_t(t) * n_cols + g];
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

void old_col_moments(const CsrView& a, const float* values, const MomentOptions& options,
                           ColumnMoments out) {
  if (a.nnz == 0 || a.n_cols == 0 || a.n_rows == 0) return;  // nothing to add
  CS_CHECK(values != nullptr, "internal: col_moments without values");
  CS_CHECK(a.n_cols <= int64_t(INT32_MAX), "internal: col_moments with more than 2^31 genes");
  const DeviceContext& ctx = use_device(a.device);
  const size_t n = size_t(a.n_cols);
  const int64_t by_memory = int64_t(kPartialBudget / (n * sizeof(Moment)));
  const int n_tiles =
      int(std::max<int64_t>(1, std::min<int64_t>({kMaxTiles, by_memory, a.n_rows})));
  const int64_t tile_rows = (a.n_rows + n_tiles - 1) / n_tiles;
  const int64_t n_ranges = (a.n_cols + kRangeGenes - 1) / kRangeGenes;
  CS_CHECK(n_ranges <= 65535, "internal: col_moments over too many genes for one grid");

  BufferPtr clip = upload_array(a.device, options.clip, n);
  // Every (tile, gene) partial is written by exactly one block: no zero fill.
  BufferPtr partials = make_buffer(a.device, size_t(n_tiles) * n * sizeof(Moment));
  moments_tile_kernel<<<dim3(unsigned(n_tiles), unsigned(n_ranges)), kMomentWarps * 32, 0,
                        ctx.stream>>>(a.n_rows, a.n_cols, tile_rows, a.indptr, a.indices, values,
                                      options.expm1, device_ptr<double>(clip),
                                      partials->as<Moment>());
  CS_CUDA_CHECK_LAUNCH("moments_tile_kernel");

  moments_reduce_kernel<<<grid_blocks(ctx, a.n_cols, kBlockThreads), kBlockThreads, 0,
                          ctx.stream>>>(a.n_cols, n_tiles, partials->as<Moment>(), out.sum,
                                        out.sum_sq, out.n_positive);
  CS_CUDA_CHECK_LAUNCH("moments_reduce_kernel");
  synchronize(ctx);
}

}  // namespace cellshard
