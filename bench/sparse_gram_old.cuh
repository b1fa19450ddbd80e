// The sparse Gram as it was before issue 8's rewrite of its tile kernel (main
// at 4e55bcd, src/cuda/sparse_gram_tiles.cu), kept for bench/gram_kernel.cu
// to time and to compare bits against: panels of 128 genes, a warp's lanes
// take one row's products at a time, tile entries at gb * 128 + ga. Included
// once, by the bench; its entry points are old_gram::old_sparse_gram_lower
// and old_gram::old_sparse_gram_last_phases.
#include "../src/cuda/sparse_gram_tiles.h"

#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "../src/core/buffer.h"
#include "../src/core/errors.h"
#include "../src/cuda/cuda_check.h"
#include "../src/cuda/warp_primitives.cuh"

namespace cellshard {
namespace old_gram {

namespace {

constexpr int kPanel = 128;                 // a tile of 128 x 128 x 8 bytes: 128 KiB of shared memory
constexpr int kTileThreads = 1024;
constexpr int kTileWarps = kTileThreads / 32;
constexpr int kGroupRows = 16;              // rows a warp stages at a time
constexpr int kStageEntries = 256;          // a warp's staging area: 2 KiB
constexpr size_t kTileSharedBytes =
    size_t(kPanel) * kPanel * 8 + size_t(kTileWarps) * kStageEntries * 8;  // 192 KiB
constexpr int64_t kRowsPerBlock = 1 << 16;  // rows one block adds: bounds the fixed-point sums
constexpr int kFractionBits = 46;           // 62 - log2(kRowsPerBlock)
constexpr int kMaxSplits = 8;               // blocks per tile and chunk
constexpr int64_t kChunkEntries = int64_t(1) << 27;  // 1 GiB of panel entries a chunk
constexpr size_t kPartialBudget = size_t(1) << 30;   // bytes of Gram-sized partial sums
constexpr int kMaxRangeGenes = 8192;        // genes a block of gene_max_abs_kernel covers

// x_g as a double with the gene's place in its panel in the low 8 bits.
using PanelEntry = unsigned long long;
static_assert(kPanel <= 256, "a panel's genes must fit in 8 bits");

__device__ __forceinline__ int entry_gene(PanelEntry e) { return int(e & 0xffull); }
__device__ __forceinline__ double entry_value(PanelEntry e) {
  return __longlong_as_double((long long)(e & ~0xffull));
}

// Largest |x| of each gene, as float bits (non-negative floats order like
// their bits; NaN comes out above Inf). Block (x, y) covers the genes of
// range y; shared-memory maxima first, then one global atomicMax a gene.
__global__ void gene_max_abs_kernel(int64_t nnz, int32_t n_cols, const int32_t* __restrict__ indices,
                                    const float* __restrict__ values, unsigned* max_bits) {
  __shared__ unsigned local[kMaxRangeGenes];
  const int32_t g0 = int32_t(blockIdx.y) * kMaxRangeGenes;
  const int32_t g1 = min(g0 + kMaxRangeGenes, n_cols);
  for (int i = threadIdx.x; i < kMaxRangeGenes; i += blockDim.x) local[i] = 0u;
  __syncthreads();
  for (int64_t k = global_thread_id(); k < nnz; k += grid_thread_count()) {
    const int32_t g = indices[k];
    if (g >= g0 && g < g1) atomicMax(&local[g - g0], __float_as_uint(fabsf(values[k])));
  }
  __syncthreads();
  for (int32_t g = g0 + int32_t(threadIdx.x); g < g1; g += int32_t(blockDim.x))
    if (local[g - g0] != 0u) atomicMax(&max_bits[g], local[g - g0]);
}

// start[p * rows + i]: how many entries of row r0 + i have genes below
// p * kPanel, for p = 0 .. n_panels. A warp a row reads the row once: the
// entry where the panel changes from pp to pk starts panels pp + 1 .. pk, and
// the panels after the last entry's start at the row's end. Each value is
// written once.
__global__ void panel_starts_kernel(int64_t r0, int64_t rows, int n_panels,
                                    const int64_t* __restrict__ indptr,
                                    const int32_t* __restrict__ indices, int32_t* start) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < rows; i += grid_warp_count()) {
    const int64_t lo = indptr[r0 + i], hi = indptr[r0 + i + 1];
    int carried = -1;  // panel of the entry before this round's first
    for (int64_t base = lo; base < hi; base += 32) {
      const int64_t k = base + lane;
      const int pk = k < hi ? indices[k] / kPanel : n_panels;
      int pp = __shfl_up_sync(kFullWarp, pk, 1);
      if (lane == 0) pp = carried;
      if (k < hi)
        for (int p = pp + 1; p <= pk; ++p) start[int64_t(p) * rows + i] = int32_t(k - lo);
      carried = __shfl_sync(kFullWarp, pk, 31);
    }
    const int last = hi > lo ? indices[hi - 1] / kPanel : -1;
    for (int p = last + 1 + lane; p <= n_panels; p += 32) start[int64_t(p) * rows + i] = int32_t(hi - lo);
  }
}

// counts[p * (rows + 1) + i]: entries of row i in panel p, and a 0 after each
// panel's rows, so that the exclusive scan of counts gives every row's first
// entry in the panel-major layout and, at [p * (rows + 1) + rows], its panel's end.
__global__ void panel_counts_kernel(int64_t rows, int n_panels, const int32_t* __restrict__ start,
                                    int64_t* counts) {
  const int64_t total = int64_t(n_panels) * (rows + 1);
  for (int64_t idx = global_thread_id(); idx < total; idx += grid_thread_count()) {
    const int64_t p = idx / (rows + 1), i = idx % (rows + 1);
    counts[idx] = i == rows ? 0 : int64_t(start[(p + 1) * rows + i] - start[p * rows + i]);
  }
}

// Writes every entry of the chunk to its place in the panel-major layout (a
// warp a row; each entry has exactly one place, so the layout is the same
// whatever order the warps run in), scaled by its gene's 1 / s_g.
__global__ void panel_scatter_kernel(int64_t r0, int64_t rows, const int64_t* __restrict__ indptr,
                                     const int32_t* __restrict__ indices,
                                     const float* __restrict__ values,
                                     const double* __restrict__ inv_scale,
                                     const int32_t* __restrict__ start,
                                     const int64_t* __restrict__ first, PanelEntry* entries) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < rows; i += grid_warp_count()) {
    const int64_t b = indptr[r0 + i], e = indptr[r0 + i + 1];
    for (int64_t k = b + lane; k < e; k += 32) {
      const int32_t g = indices[k];
      const int64_t p = g / kPanel;
      const int64_t dest = first[p * (rows + 1) + i] + (k - b - start[p * rows + i]);
      const double x = double(values[k]) * inv_scale[g];  // exact: a power of two
      entries[dest] = (PanelEntry)__double_as_longlong(x) | PanelEntry(g - p * kPanel);
    }
  }
}

// Panel pair t of the lower triangle: t = p (p + 1) / 2 + q, q <= p.
__device__ void panel_pair(int64_t t, int& p, int& q) {
  int64_t pp = int64_t((sqrt(8.0 * double(t) + 1.0) - 1.0) / 2.0);
  while ((pp + 1) * (pp + 2) / 2 <= t) ++pp;
  while (pp * (pp + 1) / 2 > t) --pp;
  p = int(pp);
  q = int(t - pp * (pp + 1) / 2);
}

// Adds the fixed-point value v to the 64-bit sum held as (hi, lo) words.
__device__ __forceinline__ void add_fixed(unsigned* lo, int* hi, long long v) {
  const unsigned v_lo = unsigned((unsigned long long)v);
  const unsigned old = atomicAdd(lo, v_lo);
  const int carry = unsigned(old + v_lo) < old ? 1 : 0;
  atomicAdd(hi, int(v >> 32) + carry);
}

// Grid (panel pairs, row blocks). Adds the tile of panels (p, q) over rows
// [y * kRowsPerBlock, ...) of the chunk to part y of the output: `gram` for
// y = 0, partials + (y - 1) n^2 otherwise (column-major n x n, lower triangle).
__global__ void __launch_bounds__(kTileThreads, 1)
gram_tile_kernel(int64_t rows, int64_t n_cols, const int64_t* __restrict__ first,
                 const PanelEntry* __restrict__ entries, const double* __restrict__ inv_scale,
                 double* gram, double* partials) {
  // lo[j * kPanel + i], hi[...]: the sum for genes p * kPanel + i, q * kPanel + j.
  extern __shared__ unsigned long long shared[];
  unsigned* lo = reinterpret_cast<unsigned*>(shared);
  int* hi = reinterpret_cast<int*>(lo + kPanel * kPanel);
  const int warp = int(threadIdx.x >> 5), lane = lane_id();
  PanelEntry* stage = shared + kPanel * kPanel + warp * kStageEntries;
  int p, q;
  panel_pair(int64_t(blockIdx.x), p, q);
  const bool diagonal = p == q;
  for (int i = threadIdx.x; i < kPanel * kPanel; i += blockDim.x) {
    lo[i] = 0u;
    hi[i] = 0;
  }
  __syncthreads();
  const int64_t* first_p = first + int64_t(p) * (rows + 1);
  const int64_t* first_q = first + int64_t(q) * (rows + 1);
  const int64_t r_begin = int64_t(blockIdx.y) * kRowsPerBlock;
  const int64_t r_end = min(rows, r_begin + kRowsPerBlock);
  const double to_fixed = ldexp(1.0, kFractionBits);
  const double magic = 6755399441055744.0;  // 1.5 2^52: adding it leaves round(y) in the low bits
  for (int64_t base = r_begin + int64_t(warp) * kGroupRows; base < r_end;
       base += int64_t(kTileWarps) * kGroupRows) {
    // Lane j <= kGroupRows: where row base + j starts in each panel (j = kGroupRows: the end).
    const int64_t r = min(base + min(lane, kGroupRows), r_end);
    const int64_t fp = first_p[r], fq = first_q[r];
    const int64_t p0 = __shfl_sync(kFullWarp, fp, 0), q0 = __shfl_sync(kFullWarp, fq, 0);
    const int64_t np = __shfl_sync(kFullWarp, fp, kGroupRows) - p0;
    const int64_t nq = diagonal ? 0 : __shfl_sync(kFullWarp, fq, kGroupRows) - q0;
    // Stage both panels' entries of the group when they fit, else read them in place.
    const bool staged = np + nq <= kStageEntries;
    if (staged) {
      for (int k = lane; k < int(np); k += 32) stage[k] = entries[p0 + k];
      for (int k = lane; k < int(nq); k += 32) stage[np + k] = entries[q0 + k];
    }
    __syncwarp();
    const int rows_here = int(min(int64_t(kGroupRows), r_end - base));
    for (int j = 0; j < rows_here; ++j) {
      const int64_t a_at = __shfl_sync(kFullWarp, fp, j) - p0;
      const int na = int(__shfl_sync(kFullWarp, fp, j + 1) - p0 - a_at);
      const int64_t b_at = diagonal ? a_at : __shfl_sync(kFullWarp, fq, j) - q0;
      const int nb = diagonal ? na : int(__shfl_sync(kFullWarp, fq, j + 1) - q0 - b_at);
      const int products = na * nb;
      if (products == 0) continue;
      const float inv_nb = 1.0f / float(nb);
      for (int t = lane; t < products; t += 32) {
        int a = int((float(t) + 0.5f) * inv_nb);
        int b = t - a * nb;
        if (b < 0) { --a; b += nb; } else if (b >= nb) { ++a; b -= nb; }
        const PanelEntry ea = staged ? stage[a_at + a] : entries[p0 + a_at + a];
        const PanelEntry eb = staged ? stage[(diagonal ? 0 : np) + b_at + b]
                                     : entries[(diagonal ? p0 : q0) + b_at + b];
        const int ga = entry_gene(ea), gb = entry_gene(eb);
        if (diagonal && gb > ga) continue;
        const double y = fma(entry_value(ea) * entry_value(eb), to_fixed, magic);  // product exact
        const long long fixed = __double_as_longlong(y) - __double_as_longlong(magic);
        add_fixed(lo + gb * kPanel + ga, hi + gb * kPanel + ga, fixed);
      }
    }
    __syncwarp();  // the staging area is reused by the next group
  }
  __syncthreads();
  double* out = blockIdx.y == 0 ? gram : partials + (int64_t(blockIdx.y) - 1) * n_cols * n_cols;
  for (int idx = threadIdx.x; idx < kPanel * kPanel; idx += blockDim.x) {
    const int i = idx % kPanel, j = idx / kPanel;
    const int64_t gi = int64_t(p) * kPanel + i, gj = int64_t(q) * kPanel + j;
    const long long sum = (long long)(((unsigned long long)(unsigned)hi[idx] << 32) | lo[idx]);
    if (gi >= n_cols || gj >= n_cols || gi < gj || sum == 0) continue;
    // exact scaling back: 2^-F s_i s_j, all powers of two
    const double back = ldexp(1.0 / (inv_scale[gi] * inv_scale[gj]), -kFractionBits);
    out[gi + gj * n_cols] += double(sum) * back;
  }
}

// gram's lower triangle += the parts' (in part order).
__global__ void add_partials_kernel(int64_t n, int parts, const double* __restrict__ partials,
                                    double* gram) {
  const int64_t n2 = n * n;
  for (int64_t idx = global_thread_id(); idx < n2; idx += grid_thread_count()) {
    if (idx % n < idx / n) continue;  // upper triangle
    double s = gram[idx];
    for (int k = 0; k < parts; ++k) s += partials[int64_t(k) * n2 + idx];
    gram[idx] = s;
  }
}

// Per-gene 1 / s_g (s_g: the smallest power of two >= max |x| of gene g; 1 for
// a gene with no non-zero value). False when some value is not finite.
bool gene_inverse_scales(const DeviceContext& ctx, const CsrView& a, const float* values,
                         std::vector<double>& inv_scale) {
  const int32_t n = int32_t(a.n_cols);
  BufferPtr bits = make_buffer(a.device, size_t(n) * sizeof(unsigned));
  CS_CUDA_CHECK(cudaMemsetAsync(bits->data(), 0, bits->bytes(), ctx.stream));
  const unsigned ranges = unsigned((n + kMaxRangeGenes - 1) / kMaxRangeGenes);
  const unsigned blocks = std::max(1u, std::min(grid_blocks(ctx, a.nnz, kBlockThreads * 8),
                                                unsigned(ctx.sm_count * 4)));
  gene_max_abs_kernel<<<dim3(blocks, ranges), kBlockThreads, 0, ctx.stream>>>(
      a.nnz, n, a.indices, values, bits->as<unsigned>());
  CS_CUDA_CHECK_LAUNCH("gene_max_abs_kernel");
  std::vector<unsigned> host(static_cast<size_t>(n));
  CS_CUDA_CHECK(cudaMemcpyAsync(host.data(), bits->data(), bits->bytes(), cudaMemcpyDeviceToHost,
                                ctx.stream));
  synchronize(ctx);
  inv_scale.assign(static_cast<size_t>(n), 1.0);
  for (size_t g = 0; g < host.size(); ++g) {
    if (host[g] >= 0x7f800000u) return false;  // Inf or NaN
    float m;
    std::memcpy(&m, &host[g], sizeof m);
    if (m == 0.0f) continue;
    int e = 0;
    std::frexp(double(m), &e);  // m < 2^e
    inv_scale[g] = std::ldexp(1.0, -e);
  }
  return true;
}

template <class T>
T* as_device(const BufferPtr& b) {
  return b->as<T>();
}

// Phase times for benchmarks (CELLSHARD_GRAM_PROFILE set): the stream is
// synchronised at each phase's end, which costs a little.
SparseGramPhases last_phases;

class PhaseClock {
 public:
  explicit PhaseClock(const DeviceContext& ctx)
      : ctx_(ctx), on_(std::getenv("CELLSHARD_GRAM_PROFILE") != nullptr),
        t_(std::chrono::steady_clock::now()) {}
  void add_to(double& phase) {
    if (!on_) return;
    synchronize(ctx_);
    const auto now = std::chrono::steady_clock::now();
    phase += std::chrono::duration<double>(now - t_).count();
    t_ = now;
  }

 private:
  const DeviceContext& ctx_;
  bool on_;
  std::chrono::steady_clock::time_point t_;
};

}  // namespace

bool old_sparse_gram_lower(const DeviceContext& ctx, const CsrView& a, const float* values,
                       const std::vector<int64_t>& host_indptr, double* gram) {
  const int64_t n = a.n_cols;
  last_phases = SparseGramPhases{};
  if (a.nnz == 0 || a.n_rows == 0 || n == 0) return true;  // adds nothing
  CS_CHECK(n <= int64_t(INT32_MAX), "internal: sparse Gram with too many columns");
  PhaseClock clock(ctx);
  std::vector<double> inv_scale;
  if (!gene_inverse_scales(ctx, a, values, inv_scale)) return false;
  BufferPtr scales = make_buffer(a.device, inv_scale.size() * sizeof(double));
  scales->upload(inv_scale.data(), scales->bytes());

  const int n_panels = int((n + kPanel - 1) / kPanel);
  const int64_t pairs = int64_t(n_panels) * (n_panels + 1) / 2;
  CS_CHECK(pairs <= int64_t(INT32_MAX), "internal: sparse Gram with too many gene panels");
  const size_t n2 = size_t(n) * size_t(n);
  // Row blocks of a chunk work at the same time, each into its own part.
  const int64_t by_memory = 1 + int64_t(kPartialBudget / (n2 * sizeof(double)));
  const int64_t wanted = (a.n_rows + kRowsPerBlock - 1) / kRowsPerBlock;
  const int splits = int(std::max<int64_t>(1, std::min<int64_t>({kMaxSplits, by_memory, wanted})));
  BufferPtr partials;
  if (splits > 1) {
    partials = make_buffer(a.device, size_t(splits - 1) * n2 * sizeof(double));
    CS_CUDA_CHECK(cudaMemsetAsync(partials->data(), 0, partials->bytes(), ctx.stream));
  }
  clock.add_to(last_phases.scales);
  const size_t tile_bytes = kTileSharedBytes;
  CS_CUDA_CHECK(cudaFuncSetAttribute(gram_tile_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     int(tile_bytes)));

  for (int64_t r0 = 0; r0 < a.n_rows;) {
    // A chunk: at most `splits` row blocks, at most kChunkEntries entries (at
    // least one row), and a scan of fewer than 2^31 counts.
    int64_t r1 = std::min(a.n_rows, r0 + int64_t(splits) * kRowsPerBlock);
    r1 = std::min(r1, r0 + std::max<int64_t>(1, (int64_t(INT32_MAX) - 1) / n_panels - 1));
    while (r1 > r0 + 1 && host_indptr[size_t(r1)] - host_indptr[size_t(r0)] > kChunkEntries)
      r1 = r0 + (r1 - r0) / 2;
    const int64_t rows = r1 - r0;
    const int64_t entries = host_indptr[size_t(r1)] - host_indptr[size_t(r0)];
    if (entries > 0) {
      const int64_t n_counts = int64_t(n_panels) * (rows + 1);
      BufferPtr start = make_buffer(a.device, size_t(rows) * size_t(n_panels + 1) * sizeof(int32_t));
      BufferPtr counts = make_buffer(a.device, size_t(n_counts) * sizeof(int64_t));
      BufferPtr first = make_buffer(a.device, size_t(n_counts) * sizeof(int64_t));
      BufferPtr layout = make_buffer(a.device, size_t(entries) * sizeof(PanelEntry));
      panel_starts_kernel<<<grid_blocks(ctx, rows, kWarpsPerBlock), kBlockThreads, 0,
                            ctx.stream>>>(r0, rows, n_panels, a.indptr, a.indices,
                                             as_device<int32_t>(start));
      CS_CUDA_CHECK_LAUNCH("panel_starts_kernel");
      panel_counts_kernel<<<grid_blocks(ctx, n_counts, kBlockThreads), kBlockThreads, 0,
                            ctx.stream>>>(rows, n_panels, as_device<int32_t>(start),
                                          as_device<int64_t>(counts));
      CS_CUDA_CHECK_LAUNCH("panel_counts_kernel");
      size_t scan_bytes = 0;
      CS_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, as_device<int64_t>(counts),
                                                  as_device<int64_t>(first), int(n_counts),
                                                  ctx.stream));
      BufferPtr scan_space = make_buffer(a.device, std::max<size_t>(scan_bytes, 1));
      CS_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scan_space->data(), scan_bytes,
                                                  as_device<int64_t>(counts),
                                                  as_device<int64_t>(first), int(n_counts),
                                                  ctx.stream));
      panel_scatter_kernel<<<grid_blocks(ctx, rows, kWarpsPerBlock), kBlockThreads, 0,
                             ctx.stream>>>(r0, rows, a.indptr, a.indices, values,
                                           as_device<double>(scales), as_device<int32_t>(start),
                                           as_device<int64_t>(first), as_device<PanelEntry>(layout));
      CS_CUDA_CHECK_LAUNCH("panel_scatter_kernel");
      clock.add_to(last_phases.layout);
      const unsigned row_blocks = unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock);
      gram_tile_kernel<<<dim3(unsigned(pairs), row_blocks), kTileThreads, tile_bytes,
                         ctx.stream>>>(rows, n, as_device<int64_t>(first),
                                       as_device<PanelEntry>(layout), as_device<double>(scales),
                                       gram, partials ? as_device<double>(partials) : nullptr);
      CS_CUDA_CHECK_LAUNCH("gram_tile_kernel");
      clock.add_to(last_phases.tiles);
      // The chunk's buffers go back to the stream-ordered pool when freed here.
    }
    r0 = r1;
  }
  if (splits > 1) {
    add_partials_kernel<<<grid_blocks(ctx, int64_t(n2), kBlockThreads), kBlockThreads, 0,
                          ctx.stream>>>(n, splits - 1, as_device<double>(partials), gram);
    CS_CUDA_CHECK_LAUNCH("add_partials_kernel");
  }
  synchronize(ctx);
  clock.add_to(last_phases.finish);
  return true;
}

SparseGramPhases old_sparse_gram_last_phases() { return last_phases; }

}  // namespace old_gram
}  // namespace cellshard
