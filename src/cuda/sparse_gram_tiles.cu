// Sparse Gram: X^T X from the products of each row's stored entries.
//
// Layout: the genes are cut into panels of kPanel. For a chunk of rows, the
// entries are rewritten panel by panel (panel-major: all rows' entries of
// panel 0, then of panel 1, ...), so that consecutive rows of one panel are
// consecutive memory. Each entry is one 64-bit word: x_g = x / s_g as a
// double (exact: s_g is a power of two, and x has float's 24 significant
// bits, so the double's low 29 bits are zero) with its tile key in the low 14
// bits: the gene's place in its panel times 129 (the place twice, in bits 0-6
// and 7-13). Where each row starts in each panel is a 32-bit
// offset (a chunk holds at most 2^27 entries, or one row).
//
// Tiles: block (t, s) owns the tile of the Gram between panels p >= q (pair t)
// and adds the rows [s * kRowsPerBlock, ...) of the chunk into it, held in
// shared memory. Each warp takes a contiguous share of those rows and walks it
// in windows: as many of the next 32 rows as have at most kStageEntries
// entries in the two panels (any one row fits: at most 2 x 128). It copies the
// window's entries of both panels (contiguous; a bulk copy each) into its
// staging area and lists the rows that have products. The window's products
// x_a x_b (a in p, b in q; on the diagonal tile only b <= a) are taken four
// a's at a time (two on the diagonal): a unit is a group of a row's
// consecutive a entries with one b (one load of b, up to four products). The
// units form one sequence, row by row, group by group, b by b; each lane
// takes a run of 1/32 of it, finds where its run starts (a binary search over
// the rows' starts, then a division, or a square root on the diagonal) and
// steps through it, b by b. So every lane has work whatever the rows' lengths
// (~4.4 entries a panel a row at 3.5% density), and a row costs the warp only
// its share of the window's bookkeeping; the next window's row bounds are
// loaded before the current one's products. Tile entry (a, b) lives at
// gb * 128 + (ga xor gb), b's key xor ga, which spreads a row's products of
// one a over the banks.
//
// Where the time goes (bench/gram_kernel.cu and Nsight Compute, H100, 1.43M
// rows x 5,000 genes at 3.5%, 2.2e10 products): the tile kernel is ~90% of
// it. Before, a warp took one row at a time (~20 products for 32 lanes) with
// a row's products of one a in one bank: 0.202 s of 0.209. One flat sequence
// with lane t taking product t of each step (the row found by a warp OR of
// row starts, (a, b) by a division, per product) made it 0.076 s, bound by
// instruction issue (~90 warp instructions a step of 32 products); runs stepped b
// by b (this) 0.072 s, bound by shared memory (2.6-way bank conflicts on
// shared loads, 21 of 32 lanes active on average). Per-strip tables
// (a lane per (row, a), products by a warp OR over strip starts) were slower:
// 0.085 s. What is left is two shared atomics and one shared load a product.
// Then (bench/gram-device-run.sh with VARIANT_SRC, H200): the key in the
// entry (one LOP3 for the tile index), the carry by add.cc / addc and the
// bounds loaded a window ahead took the tiles from 0.0723 to 0.0704 s
// (uniform) and 0.0784 to 0.0745 s (skewed), the same bits. Copying each
// window's entries to the staging area asynchronously, issued before the
// window's bookkeeping (one latency a window, not one per round of loads):
// 0.0704 -> 0.0660 s (uniform), 0.0747 -> 0.0696 s (skewed), same bits (H100,
// session 13). Nsight Compute on the kernel before that change (300,000
// skewed rows): L1 87% busy, 45% of the shared-load wavefronts bank conflicts.
// Two a's a unit (half the loads of b): 0.0655 -> 0.0619 s (uniform), 0.0691
// -> 0.0647 s (skewed), same bits (H100, session 14). Groups of G a's with
// the group's size and the diagonal's b <= a tested per product (one loop
// for every G) took 0.0650 s at G = 2, 0.0696 at 3 and 0.0682 at 4: the
// pairs stay written out. Without the carry between the two atomics (a
// 30-bit fixed point split 16 / 14 bits, no returned value used) the tiles
// took 0.0653 s against 0.0661; with the high word's atomic skipped when it
// adds zero (fewer fraction bits: 1.03 atomics a product) they took the same
// time as now, and with it behind a warp vote or both atomics predicated,
// longer (session 15). Nsight Compute (session 15, 300,000 uniform rows):
// issue slots 77% busy, 2.2 warp instructions a product at 21 active lanes,
// more than half of them outside the product loop (windows, transitions
// between pairs and rows); stalls on shared results, fixed latencies and
// branches. So the instruction stream bounds it, not any one shared
// operation. Session 16 (bench/gram_kernel.cu, uniform): without products
// (windows only) the tiles take 0.0191 s, without atomics 0.0475, whole
// 0.0624; four a's a unit off the diagonal, written out (add_run), 0.0606.
// Launching the panel pairs heaviest first took the real matrix's tiles from
// 0.0723 to 0.0711 s. Session 21: Nsight Compute's source counters put 15% of
// the kernel's instructions in the staging copies (~170 a window, 8 bytes a
// lane a copy); two bulk copies a window, issued by one lane, took the tiles
// from 0.0619 to 0.0566 s (uniform) and 0.0636 to 0.0585 s (skewed), the same
// bits; the rounding's magic constant scaled by 2^-F (no multiplication of
// each a value by 2^F) then 0.0560 / 0.0578 s. Of what is left, ~33% of the
// instructions are the windows' bookkeeping and ~57% the product loop, half
// of that the moves to the next group of a's, which a lane makes every ~4
// steps while the others wait; taking up to 4 b's a step, one 32-bit atomic a
// product and predicated products were all slower (BENCHMARKS.md, session 21).
//
// Exact, order-free sums: each product is rounded once to a 64-bit fixed-point
// number, x_a x_b 2^F, and added with integer atomics, as two 32-bit words with
// the carry passed on (the GPU has native 32-bit shared-memory atomic adds; its
// 64-bit ones are compare-and-swap loops). Integer addition does not depend on
// the order, so the tile is the same bits whatever order the threads run in
// (deterministic with atomics), and the same bits whichever warp takes which
// product. A row adds at most one product to each entry
// of the tile and a block adds at most 2^17 rows, so with F = 45 no sum can
// overflow (|sum| <= 2^17 2^45 = 2^62). Each product's rounding error is at
// most 2^-46 s_a s_b <= 2^-44 max|x_a| max|x_b|: as fine as float64 (2^-53 of
// the running sum) once the sum is more than 2^9 times the largest product.
// The tile is then scaled back exactly (powers of two) and added in float64
// to the block's own part of the output: no atomics in global memory.
// 2^17 rows a block, not 2^16 (F = 46), halve the blocks, each of which
// zeroes and writes back its 128 KiB tile: the Gram 1.0-1.5 ms faster on
// 1.43M-row shards, within 2e-14 of sqrt(G_ii G_jj) of the 2^16 version
// (bench/gram_kernel.cu, H100, session 23).
#include "sparse_gram_tiles.h"

#include <cub/device/device_scan.cuh>
#include <cuda_pipeline.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "../core/buffer.h"
#include "../core/errors.h"
#include "../core/memory_budget.h"
#include "cuda_check.h"
#include "phase_clock.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

constexpr int kPanel = 128;                 // a tile of 128 x 128 x 8 bytes: 128 KiB of shared memory
constexpr int kTileThreads = 1024;
constexpr int kTileWarps = kTileThreads / 32;
constexpr int kStageEntries = 2 * kPanel;   // entries a window stages (2 KiB): any one row fits
// A warp's staging area: the window's entries of each panel are copied from
// 16-byte boundaries (bulk copies), so each panel's run may start one entry
// early and end one entry late.
constexpr int kStageSlots = kStageEntries + 4;
// The tile, and a warp's staging area, 32 rows' RowMeta and barrier: 209 KiB.
constexpr size_t kTileSharedBytes =
    size_t(kPanel) * kPanel * 8 + size_t(kTileWarps) * (kStageSlots * 8 + 32 * 16 + 8);
constexpr int64_t kRowsPerBlock = 1 << 17;  // rows one block adds: bounds the fixed-point sums
constexpr int kFractionBits = 45;           // 62 - log2(kRowsPerBlock)
constexpr int kMaxSplits = 8;               // blocks per tile and chunk
constexpr int64_t kChunkEntries = int64_t(1) << 27;  // 1 GiB of panel entries a chunk
constexpr size_t kPartialBudget = size_t(1) << 30;   // bytes of Gram-sized partial sums
// The working buffers (partial sums, a chunk's layout) take at most what the
// device's memory budget leaves, but a chunk may always take this much.
constexpr size_t kMinChunkBytes = size_t(16) << 20;
constexpr int kMaxRangeGenes = 8192;        // genes a block of gene_max_abs_kernel covers

// x_g as a double with its tile key in the low 14 bits (below).
using PanelEntry = unsigned long long;
static_assert(kPanel == 128, "a tile key holds a gene's place in its panel in 7 bits, twice");

// The low 14 bits of an entry hold its tile key: the gene's place in its
// panel times 129 (the place in bits 0-6 and again in bits 7-13).
constexpr unsigned long long kKeyMask = 0x3fffull;
__device__ __forceinline__ PanelEntry tile_key(int place) {
  return PanelEntry(place * (kPanel + 1));
}
__device__ __forceinline__ int entry_key(PanelEntry e) { return int(e & kKeyMask); }
__device__ __forceinline__ int entry_gene(PanelEntry e) { return int(e & 0x7full); }
__device__ __forceinline__ double entry_value(PanelEntry e) {
  return __longlong_as_double((long long)(e & ~kKeyMask));
}

// Largest |x| of each gene, as float bits (non-negative floats order like
// their bits; NaN comes out above Inf). Block (x, y) covers the genes of
// range y; shared-memory maxima first, then one global atomicMax a gene.
// Skipping the atomic where the value is not above the maximum seen so far
// took this phase from 0.0020 to 0.0015 s (1.43M x 5,000 at 3.5%, H100).
// A thread loads kMaxAbsBatch entries before it uses the first: one load's
// latency at a time kept too few bytes in flight for the memory's bandwidth.
constexpr int kMaxAbsBatch = 4;
__global__ void gene_max_abs_kernel(int64_t nnz, int32_t n_cols, const int32_t* __restrict__ indices,
                                    const float* __restrict__ values, unsigned* max_bits) {
  __shared__ unsigned local[kMaxRangeGenes];
  const int32_t g0 = int32_t(blockIdx.y) * kMaxRangeGenes;
  const int32_t g1 = min(g0 + kMaxRangeGenes, n_cols);
  for (int i = threadIdx.x; i < kMaxRangeGenes; i += blockDim.x) local[i] = 0u;
  __syncthreads();
  const int64_t stride = grid_thread_count();
  for (int64_t k0 = global_thread_id(); k0 < nnz; k0 += stride * kMaxAbsBatch) {
    int32_t g[kMaxAbsBatch];
    unsigned bits[kMaxAbsBatch];
#pragma unroll
    for (int u = 0; u < kMaxAbsBatch; ++u) {
      const int64_t k = k0 + u * stride;
      g[u] = k < nnz ? indices[k] : -1;
      bits[u] = k < nnz ? __float_as_uint(fabsf(values[k])) : 0u;
    }
#pragma unroll
    for (int u = 0; u < kMaxAbsBatch; ++u) {
      // The maxima only grow: a value at or below the one seen needs no atomic.
      if (g[u] >= g0 && g[u] < g1 && bits[u] > local[g[u] - g0])
        atomicMax(&local[g[u] - g0], bits[u]);
    }
  }
  __syncthreads();
  for (int32_t g = g0 + int32_t(threadIdx.x); g < g1; g += int32_t(blockDim.x))
    if (local[g - g0] != 0u) atomicMax(&max_bits[g], local[g - g0]);
}

// The panel-major layout is made a block of rows at a time (kLayoutRows
// rows, fewer when the genes have many panels): where each of the block's
// rows starts in each panel is worked out in shared memory, twice (once to
// count the block's entries in each panel, once to place them), so that
// nothing rows x panels large goes through global memory but `first`, which
// the tiles read. Before, per-row starts and counts went through global
// memory in panel-major order (two more rows x panels int32 arrays a chunk,
// 128 MB at the seed share) and a scan ran over all of them. Same layout,
// same time (seed share on an H100: 0.0066-0.0067 s against 0.0071 in the
// same run; session 15), less memory.
constexpr int kLayoutRows = 64;
constexpr int kLayoutThreads = 256;
constexpr size_t kLayoutSharedBytes = 48 * 1024;

// The layout kernel reads each gene's 1 / s_g from a table in shared memory
// (its log2, 2 bytes a gene) when the table fits in kScaleTableBytes, else
// from global memory: a gather a value, on which the kernel waited (Nsight
// Compute, session 17: 66% of its stalls on global loads). The table took
// the layout from 0.0051 to 0.0047 s (uniform) and 0.0058 to 0.0051 s
// (skewed), the same bits (bench/gram_kernel.cu, H100).
// CELLSHARD_GRAM_SCALE_TABLE=0 forces the global reads (tests).
constexpr size_t kScaleTableBytes = 64 * 1024;

// A layout block's shared arrays hold a row's n_panels + 1 counts at an odd
// stride, so that a warp reading down a column, or along a row, meets each
// bank once.
__host__ __device__ __forceinline__ int layout_stride(int n_panels) { return (n_panels + 1) | 1; }

// Rows a layout block: as many as fit two rows x layout_stride int32 arrays
// in kLayoutSharedBytes, at most kLayoutRows (at least 1: a Gram of 12,000
// panels would be 1.5M genes, 18 TB).
int layout_rows(int n_panels) {
  const size_t per_row = size_t(layout_stride(n_panels)) * 2 * sizeof(int32_t);
  return int(std::max<size_t>(1, std::min<size_t>(kLayoutRows, kLayoutSharedBytes / per_row)));
}

// Rounds of 32 entries of a row that a warp of the layout loads before it
// uses the first: a row's loads in flight together, not one round's latency
// after another (most rows of the seed share take one batch).
constexpr int kLayoutRounds = 8;

// start[r * layout_stride + p] (shared): how many entries of the block's row
// r have genes below p * kPanel, for p = 0 .. n_panels. A warp a row reads the
// row once: the entry where the panel changes from pp to pk starts panels
// pp + 1 .. pk, and the panels after the last entry's start at the row's end.
__device__ void block_panel_starts(int64_t row0, int nr, int n_panels,
                                   const int64_t* __restrict__ indptr,
                                   const int32_t* __restrict__ indices, int32_t* start) {
  const int lane = lane_id(), warps = int(blockDim.x >> 5), stride = layout_stride(n_panels);
  for (int r = int(threadIdx.x >> 5); r < nr; r += warps) {
    const int64_t lo = indptr[row0 + r], hi = indptr[row0 + r + 1];
    int carried = -1;  // panel of the entry before this round's first
    for (int64_t batch = lo; batch < hi; batch += 32 * kLayoutRounds) {
      int pk[kLayoutRounds];
#pragma unroll
      for (int u = 0; u < kLayoutRounds; ++u) {
        const int64_t k = batch + 32 * u + lane;
        pk[u] = k < hi ? indices[k] / kPanel : n_panels;
      }
#pragma unroll
      for (int u = 0; u < kLayoutRounds; ++u) {
        const int64_t k = batch + 32 * u + lane;
        int pp = __shfl_up_sync(kFullWarp, pk[u], 1);
        if (lane == 0) pp = carried;
        if (k < hi)
          for (int p = pp + 1; p <= pk[u]; ++p) start[r * stride + p] = int32_t(k - lo);
        carried = __shfl_sync(kFullWarp, pk[u], 31);
      }
    }
    const int last = hi > lo ? indices[hi - 1] / kPanel : -1;
    for (int p = last + 1 + lane; p <= n_panels; p += 32) start[r * stride + p] = int32_t(hi - lo);
  }
}

// block_counts[p * (n_blocks + 1) + b]: the entries of block b's rows in panel
// p; [p * (n_blocks + 1) + n_blocks] stays 0, so that the exclusive scan gives
// each block's first place in each panel and, at n_blocks, the panel's end.
__global__ void panel_block_counts_kernel(int64_t r0, int64_t rows, int n_panels, int rows_a_block,
                                          const int64_t* __restrict__ indptr,
                                          const int32_t* __restrict__ indices,
                                          int32_t* block_counts) {
  extern __shared__ int32_t layout_shared[];
  const int64_t n_blocks = (rows + rows_a_block - 1) / rows_a_block;
  for (int64_t b = blockIdx.x; b < n_blocks; b += gridDim.x) {
    const int64_t i0 = b * rows_a_block;
    const int nr = int(std::min<int64_t>(rows_a_block, rows - i0));
    block_panel_starts(r0 + i0, nr, n_panels, indptr, indices, layout_shared);
    __syncthreads();
    const int lane = lane_id(), stride = layout_stride(n_panels);
    for (int p = int(threadIdx.x >> 5); p < n_panels; p += int(blockDim.x >> 5)) {  // a warp a panel
      int32_t count = 0;
      for (int r = lane; r < nr; r += 32)
        count += layout_shared[r * stride + p + 1] - layout_shared[r * stride + p];
      count = warp_inclusive_sum(count);
      if (lane == 31) {
        block_counts[p * (n_blocks + 1) + b] = count;
        if (b == n_blocks - 1) block_counts[p * (n_blocks + 1) + n_blocks] = 0;
      }
    }
    __syncthreads();  // the shared starts are rewritten for the next block
  }
}

// Writes first[p * (rows + 1) + i], row i's first place in panel p of the
// layout (and, at i = rows, the panel's end), and every entry of the chunk at
// its place, scaled by its gene's 1 / s_g (exact: a power of two) with its
// tile key. Each entry has exactly one place, so the layout is the same
// whatever order the blocks run in.
// With table_genes > 0 (all the genes), their scales' log2 go to shared
// memory after the starts and places, once a block.
__global__ void panel_layout_kernel(int64_t r0, int64_t rows, int n_panels, int rows_a_block,
                                    const int64_t* __restrict__ indptr,
                                    const int32_t* __restrict__ indices,
                                    const float* __restrict__ values,
                                    const double* __restrict__ inv_scale, int table_genes,
                                    const int32_t* __restrict__ block_first, int32_t* first,
                                    PanelEntry* entries) {
  extern __shared__ int32_t layout_shared[];
  const int64_t n_blocks = (rows + rows_a_block - 1) / rows_a_block;
  const int lane = lane_id(), warps = int(blockDim.x >> 5);
  short* log_inv_scale =
      reinterpret_cast<short*>(layout_shared + 2 * layout_stride(n_panels) * rows_a_block);
  for (int g = int(threadIdx.x); g < table_genes; g += int(blockDim.x))
    log_inv_scale[g] = short(ilogb(inv_scale[g]));
  __syncthreads();
  for (int64_t b = blockIdx.x; b < n_blocks; b += gridDim.x) {
    const int64_t i0 = b * rows_a_block;
    const int nr = int(std::min<int64_t>(rows_a_block, rows - i0));
    const int stride = layout_stride(n_panels);
    int32_t* start = layout_shared;                // nr x stride, row-major
    int32_t* place = layout_shared + stride * nr;  // the same shape: row r's place in panel p
    block_panel_starts(r0 + i0, nr, n_panels, indptr, indices, start);
    __syncthreads();
    for (int p = int(threadIdx.x >> 5); p < n_panels; p += warps) {  // a warp a panel
      int32_t at = block_first[p * (n_blocks + 1) + b];
      for (int base = 0; base < nr; base += 32) {
        const int r = base + lane;
        const int32_t count = r < nr ? start[r * stride + p + 1] - start[r * stride + p] : 0;
        const int32_t through = warp_inclusive_sum(count);
        if (r < nr) place[r * stride + p] = at + through - count;
        at += __shfl_sync(kFullWarp, through, 31);
      }
      if (b == n_blocks - 1 && lane == 0)
        first[p * (rows + 1) + rows] = block_first[p * (n_blocks + 1) + n_blocks];
    }
    __syncthreads();
    for (int idx = int(threadIdx.x); idx < n_panels * nr; idx += int(blockDim.x)) {
      const int p = idx / nr, r = idx - p * nr;
      first[p * (rows + 1) + i0 + r] = place[r * stride + p];
    }
    for (int r = int(threadIdx.x >> 5); r < nr; r += warps) {
      const int64_t lo = indptr[r0 + i0 + r], hi = indptr[r0 + i0 + r + 1];
      for (int64_t batch = lo; batch < hi; batch += 32 * kLayoutRounds) {
        int32_t g[kLayoutRounds];
        float v[kLayoutRounds];
#pragma unroll
        for (int u = 0; u < kLayoutRounds; ++u) {
          const int64_t k = batch + 32 * u + lane;
          g[u] = k < hi ? indices[k] : 0;
          v[u] = k < hi ? values[k] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < kLayoutRounds; ++u) {
          const int64_t k = batch + 32 * u + lane;
          if (k >= hi) continue;
          const int p = g[u] / kPanel;
          const int64_t dest = place[r * stride + p] + (k - lo - start[r * stride + p]);
          const double scale =
              table_genes > 0
                  ? __longlong_as_double((long long)(1023 + log_inv_scale[g[u]]) << 52)
                  : inv_scale[g[u]];
          const double x = double(v[u]) * scale;  // exact: a power of two
          entries[dest] = (PanelEntry)__double_as_longlong(x) | tile_key(g[u] - p * kPanel);
        }
      }
    }
    __syncthreads();  // the shared arrays are rewritten for the next block
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

// A window's row with products, in shared memory (16 bytes, one load):
// x: its first unit in the window's sequence; y: where its entries of
// panel p (low 16 bits) and of panel q (high) start in the staging area;
// z: its entries in p (low) and in q (high); w: 1 / (entries in q) as float bits.
using RowMeta = int4;

// The tile entry of genes ga (panel p) and gb (panel q, key_b = 129 gb): row
// gb, column ga xor gb, so that a warp's products spread over the banks.
__device__ __forceinline__ int tile_index(int ga, int key_b) { return key_b ^ ga; }

// Bulk copies need sm_90; older GPUs (CELLSHARD_CUDA_ARCH) stage with
// per-lane 8-byte async copies into the same places.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define CELLSHARD_BULK_COPY 1
#else
#define CELLSHARD_BULK_COPY 0
#endif

// A warp's window is staged by bulk copies (the Tensor Memory Accelerator's
// contiguous copies, global to shared): one lane issues one copy a panel and
// the warp waits on its barrier, where per-lane 8-byte async copies took ~170
// instructions a window (Nsight Compute source counters, session 21: 15% of
// the kernel's instructions). A copy moves whole 16-byte pairs of entries.
#if CELLSHARD_BULK_COPY
__device__ __forceinline__ unsigned shared_address(const void* p) {
  return unsigned(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void barrier_init(unsigned bar) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(bar) : "memory");
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}
// The copies to come will bring `bytes`; also the barrier's one arrival.
__device__ __forceinline__ void barrier_expect(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void bulk_copy(unsigned dst, const void* src, unsigned bytes,
                                          unsigned bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
      ::"r"(dst), "l"(__cvta_generic_to_global(src)), "r"(bytes), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void barrier_wait(unsigned bar, unsigned phase) {
  asm volatile(
      "{\n\t.reg .pred done;\n\tWAIT:\n\t"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n\t"
      "@!done bra WAIT;\n\t}" ::"r"(bar), "r"(phase)
      : "memory");
}
#endif

// Entries [first, first + count) copied from the 16-byte boundary at or below
// `first`: the slots they take in the staging area (even, so that the next
// run starts on a boundary too), 0 when count is 0.
__device__ __forceinline__ int staged_slots(int first, int count) {
  return count > 0 ? ((first & 1) + count + 1) & ~1 : 0;
}

// Adds round(x_a x_b 2^F) to tile entry `at`, held as two 32-bit words: the
// product is exact, then one rounding. magic = 1.5 2^(52 - F): y = x_a x_b +
// magic (|x_a x_b| <= 1) has the exponent of magic, so its last bit is worth
// 2^-F and its mantissa holds round(x_a x_b 2^F) over magic's; the low word of
// y is the low word of the fixed-point value (magic's is 0), and the high word
// takes the carry out of the low one. (The same bits as rounding
// (x_a 2^F) x_b + 1.5 2^52, with one multiplication fewer a value: session 21.)
__device__ __forceinline__ void add_fixed(unsigned* lo, int* hi, int at, double xa, double xb) {
  constexpr double magic = 1.5 * double(1ull << (52 - kFractionBits));
  const double y = fma(xa, xb, magic);
  const unsigned v_lo = unsigned(__double2loint(y));
  const int v_hi = __double2hiint(y) - __double2hiint(magic);
  const unsigned old = atomicAdd(lo + at, v_lo);
  int hi_add;  // v_hi plus the carry out of the low word
  asm("{\n\t.reg .u32 t;\n\tadd.cc.u32 t, %1, %2;\n\taddc.u32 %0, %3, 0;\n\t}"
      : "=r"(hi_add) : "r"(old), "r"(v_lo), "r"(v_hi));
  atomicAdd(hi + at, hi_add);
}

// A window's row, its RowMeta unpacked.
struct WindowRow {
  int first_unit, at_a, at_b, na, nb;
  __device__ explicit WindowRow(const RowMeta& m)
      : first_unit(m.x), at_a(m.y & 0xffff), at_b(m.y >> 16), na(m.z & 0xffff), nb(m.z >> 16) {}
};

// Units t .. t_end - 1 of a window off the diagonal (t in row c): a unit is
// a group of up to four of a row's consecutive a entries with one b (one
// load of b, up to four products), groups in order, b by b within a group:
// unit u of a row is group u / nb, b u % nb. Four a's a unit, against two,
// took the tiles from 0.0628 to 0.0606 s (uniform) and 0.0650 to 0.0623 s
// (skewed), the same bits (bench/gram_kernel.cu, H100, session 16): half the
// loads of b and half the moves to the next group, in the product loop,
// against more product slots left empty (a row's last group).
__device__ __forceinline__ void add_run(const RowMeta* meta, const PanelEntry* stage, int c, int t,
                                        int t_end, unsigned* lo, int* hi) {
  RowMeta m = meta[c];
  WindowRow row(m);
  const int u = t - row.first_unit;
  int group = int((float(u) + 0.5f) * __int_as_float(m.w));  // m.w: 1 / nb as float bits
  int ib = u - group * row.nb;
  if (ib < 0) { --group; ib += row.nb; } else if (ib >= row.nb) { ++group; ib -= row.nb; }
  int ia = 4 * group;  // the group's first a
  double xa1, xa2, xa3, xa4;
  int ga1, ga2, ga3, ga4, count;
  const PanelEntry* pb;
  const PanelEntry* pb_end;
  auto take_group = [&] {
    const PanelEntry* pa = stage + row.at_a + ia;
    count = min(4, row.na - ia);
    const PanelEntry e1 = pa[0];
    const PanelEntry e2 = count > 1 ? pa[1] : PanelEntry(0);
    const PanelEntry e3 = count > 2 ? pa[2] : PanelEntry(0);
    const PanelEntry e4 = count > 3 ? pa[3] : PanelEntry(0);
    xa1 = entry_value(e1);
    xa2 = entry_value(e2);
    xa3 = entry_value(e3);
    xa4 = entry_value(e4);
    ga1 = entry_gene(e1);
    ga2 = entry_gene(e2);
    ga3 = entry_gene(e3);
    ga4 = entry_gene(e4);
    pb = stage + row.at_b;
    pb_end = pb + row.nb;
  };
  take_group();
  pb += ib;
  for (; t < t_end; ++t) {
    if (pb == pb_end) {  // the next group of the row, or the next row
      ia += 4;
      if (ia >= row.na) {
        row = WindowRow(meta[++c]);
        ia = 0;
      }
      take_group();
    }
    const PanelEntry eb = *pb;
    const int key_b = entry_key(eb);
    const double xb = entry_value(eb);
    add_fixed(lo, hi, tile_index(ga1, key_b), xa1, xb);
    if (count > 1) add_fixed(lo, hi, tile_index(ga2, key_b), xa2, xb);
    if (count > 2) add_fixed(lo, hi, tile_index(ga3, key_b), xa3, xb);
    if (count > 3) add_fixed(lo, hi, tile_index(ga4, key_b), xa4, xb);
    ++pb;
  }
}

// The same on the diagonal tile, where only b <= a: a unit is a pair of a
// row's consecutive a entries (a1 = 2 ja, a2 = 2 ja + 1, when there is one)
// with one b; pair ja has units b = 0 .. a2 (a1's product skipped at
// b = a2), 2 ja + 2 of them, ja (ja + 1) before it; a lone last a has 2 ja + 1.
__device__ __forceinline__ void add_diagonal_run(const RowMeta* meta, const PanelEntry* stage,
                                                 int c, int t, int t_end, unsigned* lo,
                                                 int* hi) {
  WindowRow row(meta[c]);
  const int u = t - row.first_unit;  // u = ja (ja + 1) + ib, ib < 2 ja + 2
  int ja = int((sqrtf(4.0f * float(u) + 1.0f) - 1.0f) * 0.5f);
  int ib = u - ja * (ja + 1);
  while (ib < 0) { --ja; ib += 2 * ja + 2; }
  while (ib >= 2 * ja + 2) { ib -= 2 * ja + 2; ++ja; }
  int ia = 2 * ja;  // a1's place; a2 is the next entry when ia + 1 < na
  double xa1, xa2;
  int ga1, ga2;
  bool two;
  const PanelEntry* pb;
  const PanelEntry* pb_end;
  const PanelEntry* pb_a2;  // b = a2: no product with a1
  auto take_pair = [&] {
    const PanelEntry e1 = stage[row.at_a + ia];
    two = ia + 1 < row.na;
    const PanelEntry e2 = two ? stage[row.at_a + ia + 1] : PanelEntry(0);
    xa1 = entry_value(e1);
    xa2 = entry_value(e2);
    ga1 = entry_gene(e1);
    ga2 = entry_gene(e2);
    pb = stage + row.at_b;
    pb_end = pb + min(ia + 2, row.na);
    pb_a2 = pb + ia + 1;
  };
  take_pair();
  pb += ib;
  for (; t < t_end; ++t) {
    if (pb == pb_end) {  // the next pair of the row, or the next row
      ia += 2;
      if (ia >= row.na) {
        row = WindowRow(meta[++c]);
        ia = 0;
      }
      take_pair();
    }
    const PanelEntry eb = *pb;
    const int key_b = entry_key(eb);
    const double xb = entry_value(eb);
    if (pb != pb_a2) add_fixed(lo, hi, tile_index(ga1, key_b), xa1, xb);
    if (two) add_fixed(lo, hi, tile_index(ga2, key_b), xa2, xb);
    ++pb;
  }
}

// Grid (panel pairs, row blocks). Block (x, y) adds the tile of panel pair
// t = pair_order[x] (panels p, q) over rows [y * kRowsPerBlock, ...) of the
// chunk to part y of the output: `gram` for y = 0, partials + (y - 1) n^2
// otherwise (column-major n x n, lower triangle).
__global__ void __launch_bounds__(kTileThreads, 1)
gram_tile_kernel(const int32_t* __restrict__ pair_order, int64_t rows, int64_t n_cols,
                 const int32_t* __restrict__ first,
                 const PanelEntry* __restrict__ entries, const double* __restrict__ inv_scale,
                 double* gram, double* partials) {
  // lo[tile_index(i, j)], hi[...]: the sum for genes p * kPanel + i, q * kPanel + j.
  extern __shared__ unsigned long long shared[];
  unsigned* lo = reinterpret_cast<unsigned*>(shared);
  int* hi = reinterpret_cast<int*>(lo + kPanel * kPanel);
  const int warp = int(threadIdx.x >> 5), lane = lane_id();
  PanelEntry* stage = shared + kPanel * kPanel + warp * kStageSlots;
  RowMeta* meta =
      reinterpret_cast<RowMeta*>(shared + kPanel * kPanel + kTileWarps * kStageSlots) + warp * 32;
#if CELLSHARD_BULK_COPY
  // the warp's barrier, after the rows' lists; its phase flips each window
  const unsigned bar = shared_address(shared + kPanel * kPanel + kTileWarps * kStageSlots +
                                      kTileWarps * 64 + warp);
  if (lane == 0) barrier_init(bar);
  unsigned phase = 0;
#endif
  int p, q;
  panel_pair(int64_t(pair_order[blockIdx.x]), p, q);
  const bool diagonal = p == q;
  for (int i = threadIdx.x; i < kPanel * kPanel; i += blockDim.x) {
    lo[i] = 0u;
    hi[i] = 0;
  }
  __syncthreads();
  const int32_t* first_p = first + int64_t(p) * (rows + 1);
  const int32_t* first_q = first + int64_t(q) * (rows + 1);
  const int64_t r_begin = int64_t(blockIdx.y) * kRowsPerBlock;
  const int64_t r_end = min(rows, r_begin + kRowsPerBlock);
  const int64_t share = (r_end - r_begin + kTileWarps - 1) / kTileWarps;
  const int64_t w_end = min(r_end, r_begin + (warp + 1) * share);
  // Lane j's row bounds in both panels, loaded one window ahead so that
  // their latency hides behind the current window's products.
  int pa0 = 0, pa1 = 0, qb0 = 0, qb1 = 0;
  auto load_bounds = [&](int64_t row) {
    if (row < w_end) {
      pa0 = first_p[row];
      pa1 = first_p[row + 1];
      if (!diagonal) {
        qb0 = first_q[row];
        qb1 = first_q[row + 1];
      }
    }
  };
  load_bounds(r_begin + warp * share + lane);
  for (int64_t r = r_begin + warp * share; r < w_end;) {
    // Lane j: row r + j's entries in each panel and where they start.
    const int64_t row = r + lane;
    const bool in = row < w_end;
    int a0 = 0, na = 0, b0 = 0, nb = 0;
    if (in) {
      a0 = pa0;
      na = pa1 - pa0;
      b0 = qb0;
      nb = qb1 - qb0;
    }
    // The window: rows whose entries fit the staging area (prefix sums of
    // na in the low 16 bits and nb in the high; at most 32 x 128 each).
    const int packed = warp_inclusive_sum(na | (nb << 16));
    const int end_a = packed & 0xffff, end_b = packed >> 16;
    const int m = __popc(__ballot_sync(kFullWarp, in && end_a + end_b <= kStageEntries));
    const bool take = lane < m;
    const int staged_a = __shfl_sync(kFullWarp, end_a, m - 1);
    const int staged_b = __shfl_sync(kFullWarp, end_b, m - 1);
    const int first_a = __shfl_sync(kFullWarp, a0, 0), first_b = __shfl_sync(kFullWarp, b0, 0);
    // The window's entries of both panels into the staging area, by one bulk
    // copy a panel from the 16-byte boundary at or below its first entry
    // (the layout has a spare entry at its end): a panel's entries start at
    // slot first & 1 of its run. Their latency hides behind the window's
    // bookkeeping below.
    const int slots_a = staged_slots(first_a, staged_a);
    const int slots_b = staged_slots(first_b, staged_b);
    const int skew_a = first_a & 1, skew_b = first_b & 1;
#if CELLSHARD_BULK_COPY
    if (lane == 0) {
      // the last window's reads of the staging area before the copies' writes
      asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
      barrier_expect(bar, unsigned(slots_a + slots_b) * 8u);
      if (slots_a > 0)
        bulk_copy(shared_address(stage), entries + (first_a - skew_a), unsigned(slots_a) * 8u,
                  bar);
      if (slots_b > 0)
        bulk_copy(shared_address(stage + slots_a), entries + (first_b - skew_b),
                  unsigned(slots_b) * 8u, bar);
    }
#else
    for (int k = lane; k < staged_a; k += 32)
      __pipeline_memcpy_async(stage + skew_a + k, entries + first_a + k, 8);
    for (int k = lane; k < staged_b; k += 32)
      __pipeline_memcpy_async(stage + slots_a + skew_b + k, entries + first_b + k, 8);
    __pipeline_commit();
#endif
    load_bounds(r + m + lane);
    if (diagonal) nb = na;
    // Units (add_run, add_diagonal_run): off the diagonal, ceil(na / 4) nb
    // (groups of four a's, each with every b); on it, pairs of a's with the
    // b <= a.
    const int half = na >> 1;
    const int units =
        take ? (diagonal ? half * (half + 1) + (na & 1) * na : ((na + 3) >> 2) * nb) : 0;
    const int end_units = warp_inclusive_sum(units);
    const int total = __shfl_sync(kFullWarp, end_units, 31);
    const unsigned busy = __ballot_sync(kFullWarp, units > 0);
    if (units > 0) {
      const int at_a = skew_a + end_a - na,
                at_b = diagonal ? at_a : slots_a + skew_b + end_b - nb;
      meta[__popc(busy & ((1u << lane) - 1u))] =
          make_int4(end_units - units, at_a | (at_b << 16), na | (nb << 16),
                    __float_as_int(1.0f / float(nb)));
    }
#if CELLSHARD_BULK_COPY
    barrier_wait(bar, phase);  // the window's entries are in the staging area
    phase ^= 1u;
#else
    __pipeline_wait_prior(0);
#endif
    // every lane's row in the rows' list (and copies, without bulk copies) visible
    __syncwarp();
    // Lane c holds where the c-th row with units starts in the sequence.
    const int row_start = lane < __popc(busy) ? meta[lane].x : INT_MAX;
    // Each lane takes a run of consecutive units and steps through it.
    const int run = (total + 31) >> 5;
    int t = lane * run;
    const int t_end = min(t + run, total);
    int c = 0;  // the row of unit t: the last row that starts at or before t
    for (int step = 16; step > 0; step >>= 1) {
      const int start = __shfl_sync(kFullWarp, row_start, c + step);
      if (start <= t) c += step;
    }
    if (t < t_end) {
      if (diagonal)
        add_diagonal_run(meta, stage, c, t, t_end, lo, hi);
      else
        add_run(meta, stage, c, t, t_end, lo, hi);
    }
    __syncwarp();  // the staging area and the rows' list are reused by the next window
    r += m;
  }
  __syncthreads();
  double* out = blockIdx.y == 0 ? gram : partials + (int64_t(blockIdx.y) - 1) * n_cols * n_cols;
  for (int idx = threadIdx.x; idx < kPanel * kPanel; idx += blockDim.x) {
    const int j = idx / kPanel, i = (idx & (kPanel - 1)) ^ j;  // idx = tile_index(i, 129 j)
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

// partial[b]: block b's sum of the squared lengths of its rows (grid-stride).
__global__ void squared_lengths_kernel(int64_t rows, const int64_t* __restrict__ indptr,
                                       double* partial) {
  double s = 0;
  for (int64_t r = global_thread_id(); r < rows; r += grid_thread_count()) {
    const double len = double(indptr[r + 1] - indptr[r]);
    s += len * len;
  }
  s = block_sum<kWarpsPerBlock>(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// Per-gene 1 / s_g (s_g: the smallest power of two >= max |x| of gene g; 1 for
// a gene with no non-zero value). False when some value is not finite.
bool gene_inverse_scales(const DeviceContext& ctx, const CsrView& a, const float* values,
                         std::vector<double>& inv_scale) {
  const int32_t n = int32_t(a.n_cols);
  BufferPtr bits = make_buffer(a.device, size_t(n) * sizeof(unsigned));
  CS_CUDA_CHECK(cudaMemsetAsync(bits->data(), 0, bits->bytes(), ctx.stream));
  const unsigned ranges = unsigned((n + kMaxRangeGenes - 1) / kMaxRangeGenes);
  // Six blocks an SM: as many as their shared maxima (32 KiB each) allow.
  const unsigned blocks = std::max(1u, std::min(grid_blocks(ctx, a.nnz, kBlockThreads * 8),
                                                unsigned(ctx.sm_count * 6)));
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

// The panel pairs t = p (p + 1) / 2 + q, heaviest first: a tile's products
// grow with the entries of its two panels multiplied (the diagonal's half),
// so that the blocks that start last, at the end of a chunk, are light ones
// and the last wave ends together. Ties keep the pairs' order.
std::vector<int32_t> pairs_heaviest_first(const std::vector<double>& panel_entries) {
  const int n_panels = int(panel_entries.size());
  std::vector<double> weight;
  std::vector<int32_t> order;
  for (int p = 0; p < n_panels; ++p)
    for (int q = 0; q <= p; ++q) {
      order.push_back(int32_t(weight.size()));
      weight.push_back(panel_entries[size_t(p)] * panel_entries[size_t(q)] * (p == q ? 0.5 : 1.0));
    }
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t x, int32_t y) { return weight[size_t(x)] > weight[size_t(y)]; });
  return order;
}

// The entries of each panel in a chunk's layout: block_first's last column
// (n_panels rows of n_blocks + 1) holds where each panel ends.
std::vector<double> panel_entries(const DeviceContext& ctx, const int32_t* block_first,
                                  int n_panels, int64_t n_blocks) {
  std::vector<int32_t> ends(static_cast<size_t>(n_panels));
  CS_CUDA_CHECK(cudaMemcpy2DAsync(ends.data(), sizeof(int32_t), block_first + n_blocks,
                                  size_t(n_blocks + 1) * sizeof(int32_t), sizeof(int32_t),
                                  size_t(n_panels), cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
  std::vector<double> entries(static_cast<size_t>(n_panels));
  for (size_t p = 0; p < entries.size(); ++p) entries[p] = double(ends[p] - (p ? ends[p - 1] : 0));
  return entries;
}

template <class T>
T* as_device(const BufferPtr& b) {
  return b->as<T>();
}

// Phase times for benchmarks (CELLSHARD_GRAM_PROFILE set): the stream is
// synchronised at each phase's end, which costs a little.
SparseGramPhases last_phases;

// The buffers of a chunk of `rows` rows and `entries` entries, as made and as
// counted against the memory budget: its layout blocks' counts and first
// places (n_counts each), where its rows start in each panel (`first`), and
// its layout, with a spare entry at the end (the tiles' bulk copies move
// pairs of entries).
struct ChunkBuffers {
  int64_t rows, entries, n_panels, n_blocks, n_counts;
  ChunkBuffers(int64_t rows_, int64_t entries_, int n_panels_, int rows_a_block)
      : rows(rows_), entries(entries_), n_panels(n_panels_),
        n_blocks((rows_ + rows_a_block - 1) / rows_a_block), n_counts(n_panels * (n_blocks + 1)) {}
  size_t counts_bytes() const { return size_t(n_counts) * sizeof(int32_t); }
  size_t first_bytes() const { return size_t(n_panels) * size_t(rows + 1) * sizeof(int32_t); }
  size_t layout_bytes() const { return size_t(entries + 1) * sizeof(PanelEntry); }
  size_t bytes() const { return 2 * counts_bytes() + first_bytes() + layout_bytes(); }
};

}  // namespace

GramWork gram_work_on_device(const DeviceContext& ctx, const CsrView& a) {
  GramWork w;
  w.n_rows = a.n_rows;
  w.n_cols = a.n_cols;
  if (a.n_rows == 0) return w;
  const unsigned blocks = std::max(1u, std::min(grid_blocks(ctx, a.n_rows, kBlockThreads),
                                                unsigned(ctx.sm_count * 2)));
  BufferPtr partial = make_buffer(a.device, size_t(blocks) * sizeof(double));
  squared_lengths_kernel<<<blocks, kBlockThreads, 0, ctx.stream>>>(a.n_rows, a.indptr,
                                                                   partial->as<double>());
  CS_CUDA_CHECK_LAUNCH("squared_lengths_kernel");
  std::vector<double> host(blocks);
  CS_CUDA_CHECK(cudaMemcpyAsync(host.data(), partial->data(), partial->bytes(),
                                cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
  for (double s : host) w.sum_squared_lengths += s;
  return w;
}

bool sparse_gram_is_faster(const GramWork& w) {
  if (const char* force = std::getenv("CELLSHARD_GRAM_METHOD")) {  // benchmarks and tests
    if (std::strcmp(force, "sparse") == 0) return true;
    if (std::strcmp(force, "dense") == 0) return false;
  }
  // Seconds, from rates measured on an H100 (bench/gram_methods.cu, 100,000
  // rows x 5,000 genes, uniform rows): the dense path adds rows x n^2 / 2
  // products at the Dsyrk rate (2.1e13 a second) after writing the rows out
  // densely; the sparse one adds half the squared row lengths (4.5e11
  // products a second) and its tile blocks visit every row once per panel
  // pair (3e10 visits a second). Measured: 0.0065 s at 3.5% (dense 0.062 s),
  // 0.028 s at 10% (dense 0.063), 0.092 s at 20% (dense 0.063): they cross
  // near 15% density at 5,000 genes. At the benchmark share (1.43M rows at
  // 3.5%) the model says 0.088 s for the sparse method; it took 0.080 s.
  const double n = double(w.n_cols), rows = double(w.n_rows);
  const double panels = std::ceil(n / kPanel);
  const double dense = rows * n * n / 2 / 2.1e13 + rows * n * 8 / 2.5e12;
  const double sparse =
      w.sum_squared_lengths / 2 / 4.5e11 + panels * (panels + 1) / 2 * rows / 3e10;
  return sparse < dense;
}

bool sparse_gram_lower(const DeviceContext& ctx, const CsrView& a, const float* values,
                       const RowPointers& indptr, double* gram) {
  const int64_t n = a.n_cols;
  last_phases = SparseGramPhases{};
  if (a.nnz == 0 || a.n_rows == 0 || n == 0) return true;  // adds nothing
  CS_CHECK(n <= int64_t(INT32_MAX), "internal: sparse Gram with too many columns");
  PhaseClock clock(ctx, "CELLSHARD_GRAM_PROFILE");
  std::vector<double> inv_scale;
  if (!gene_inverse_scales(ctx, a, values, inv_scale)) return false;
  BufferPtr scales = make_buffer(a.device, inv_scale.size() * sizeof(double));
  scales->upload(inv_scale.data(), scales->bytes());

  const int n_panels = int((n + kPanel - 1) / kPanel);
  const int64_t pairs = int64_t(n_panels) * (n_panels + 1) / 2;
  CS_CHECK(pairs <= int64_t(INT32_MAX), "internal: sparse Gram with too many gene panels");
  const size_t n2 = size_t(n) * size_t(n);
  // The working buffers take what the memory budget leaves (at most 1 GiB of
  // partial sums and 1 GiB of layout a chunk): where the data already fills
  // the budget, fewer row blocks work at once and the chunks are smaller, so
  // that the Gram does not take the device past it. The same products, each
  // tile's sum added to the output in another order.
  const size_t room = budget_room(a.device);
  // Row blocks of a chunk work at the same time, each into its own part.
  const int64_t by_memory =
      1 + int64_t(std::min(kPartialBudget, room / 2) / (n2 * sizeof(double)));
  const int64_t wanted = (a.n_rows + kRowsPerBlock - 1) / kRowsPerBlock;
  const int splits = int(std::max<int64_t>(1, std::min<int64_t>({kMaxSplits, by_memory, wanted})));
  BufferPtr partials;
  const size_t partial_bytes = size_t(splits - 1) * n2 * sizeof(double);
  if (splits > 1) {
    partials = make_buffer(a.device, partial_bytes);
    CS_CUDA_CHECK(cudaMemsetAsync(partials->data(), 0, partials->bytes(), ctx.stream));
  }
  const size_t chunk_budget =
      std::max(kMinChunkBytes, room > partial_bytes ? room - partial_bytes : size_t(0));
  clock.add_to(last_phases.scales);
  const size_t tile_bytes = kTileSharedBytes;
  CS_CUDA_CHECK(cudaFuncSetAttribute(gram_tile_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     int(tile_bytes)));

  // The layout kernels' blocks, and how many of each an SM holds at once: a
  // chunk's launch is one wave of them.
  const int rows_a_block = layout_rows(n_panels);
  const size_t starts_shared =
      size_t(layout_stride(n_panels)) * 2 * size_t(rows_a_block) * sizeof(int32_t);
  const char* table_env = std::getenv("CELLSHARD_GRAM_SCALE_TABLE");
  const int table_genes = size_t(n) * sizeof(short) <= kScaleTableBytes &&
                                  !(table_env && std::strcmp(table_env, "0") == 0)
                              ? int(n)
                              : 0;
  const size_t layout_shared =
      starts_shared + (size_t(table_genes) * sizeof(short) + 3) / 4 * 4;
  CS_CUDA_CHECK(cudaFuncSetAttribute(panel_layout_kernel,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     int(layout_shared)));
  const auto wave = [&](const void* kernel, size_t shared) {
    int per_sm = 0;
    CS_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kLayoutThreads,
                                                                shared));
    return int64_t(ctx.sm_count) * std::max(per_sm, 1);
  };
  const int64_t counts_wave =
      wave(reinterpret_cast<const void*>(panel_block_counts_kernel), starts_shared);
  const int64_t layout_wave =
      wave(reinterpret_cast<const void*>(panel_layout_kernel), layout_shared);

  BufferPtr pair_order;  // from the first chunk's panels
  int64_t launched_pairs = pairs;
  int64_t at_r0 = indptr[0];
  int64_t last_rows = a.n_rows;  // the previous chunk's
  for (int64_t r0 = 0; r0 < a.n_rows;) {
    // A chunk: at most `splits` row blocks, at most kChunkEntries entries and
    // chunk_budget bytes of buffers (at least one row: whole row blocks while
    // it takes more than one), and a scan of fewer than 2^31 counts. It
    // starts from twice the previous chunk's rows: each cut reads a row
    // pointer from the device, and a small budget's chunks would otherwise
    // be cut down from the largest every time.
    int64_t r1 = std::min(a.n_rows, r0 + std::min(int64_t(splits) * kRowsPerBlock, 2 * last_rows));
    r1 = std::min(r1, r0 + std::max<int64_t>(1, (int64_t(INT32_MAX) - 1) / n_panels - 1));
    int64_t at_r1 = indptr[r1];
    while (r1 > r0 + 1 &&
           (at_r1 - at_r0 > kChunkEntries ||
            ChunkBuffers(r1 - r0, at_r1 - at_r0, n_panels, rows_a_block).bytes() > chunk_budget)) {
      r1 = r1 - r0 > kRowsPerBlock ? r0 + (r1 - r0 - 1) / kRowsPerBlock * kRowsPerBlock
                                   : r0 + (r1 - r0) / 2;
      at_r1 = indptr[r1];
    }
    const int64_t rows = r1 - r0;
    const int64_t entries = at_r1 - at_r0;
    last_rows = rows;
    if (entries > 0) {
      ++last_phases.chunks;
      const ChunkBuffers sizes(rows, entries, n_panels, rows_a_block);
      const int64_t n_blocks = sizes.n_blocks, n_counts = sizes.n_counts;
      BufferPtr counts = make_buffer(a.device, sizes.counts_bytes());
      BufferPtr block_first = make_buffer(a.device, sizes.counts_bytes());
      BufferPtr first = make_buffer(a.device, sizes.first_bytes());
      BufferPtr layout = make_buffer(a.device, sizes.layout_bytes());
      CS_CHECK(reinterpret_cast<uintptr_t>(layout->data()) % 16 == 0,
               "internal: the Gram's layout is not 16-byte aligned");
      panel_block_counts_kernel<<<unsigned(std::min(n_blocks, counts_wave)), kLayoutThreads,
                                  starts_shared, ctx.stream>>>(
          r0, rows, n_panels, rows_a_block, a.indptr, a.indices, as_device<int32_t>(counts));
      CS_CUDA_CHECK_LAUNCH("panel_block_counts_kernel");
      size_t scan_bytes = 0;
      CS_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, as_device<int32_t>(counts),
                                                  as_device<int32_t>(block_first), int(n_counts),
                                                  ctx.stream));
      BufferPtr scan_space = make_buffer(a.device, std::max<size_t>(scan_bytes, 1));
      CS_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scan_space->data(), scan_bytes,
                                                  as_device<int32_t>(counts),
                                                  as_device<int32_t>(block_first), int(n_counts),
                                                  ctx.stream));
      panel_layout_kernel<<<unsigned(std::min(n_blocks, layout_wave)), kLayoutThreads,
                            layout_shared, ctx.stream>>>(
          r0, rows, n_panels, rows_a_block, a.indptr, a.indices, values, as_device<double>(scales),
          table_genes, as_device<int32_t>(block_first), as_device<int32_t>(first),
          as_device<PanelEntry>(layout));
      CS_CUDA_CHECK_LAUNCH("panel_layout_kernel");
      if (!pair_order) {
        std::vector<int32_t> order = pairs_heaviest_first(
            panel_entries(ctx, as_device<int32_t>(block_first), n_panels, n_blocks));
#ifdef CELLSHARD_GRAM_BENCH_SKIP_PANELS
        // bench/gram_dense_split.cu's build only (it would make the Gram
        // wrong): the pairs of the last `skip` panels left out
        if (const char* skip = std::getenv("CELLSHARD_GRAM_SKIP_PANELS")) {
          const int from = n_panels - std::atoi(skip);
          order.erase(std::remove_if(order.begin(), order.end(),
                                     [&](int32_t t) {
                                       int64_t p = 0;
                                       while ((p + 1) * (p + 2) / 2 <= t) ++p;
                                       return t - p * (p + 1) / 2 >= from;
                                     }),
                      order.end());
        }
#endif
        launched_pairs = int64_t(order.size());
        pair_order = make_buffer(a.device, order.size() * sizeof(int32_t));
        pair_order->upload(order.data(), pair_order->bytes());
      }
      clock.add_to(last_phases.layout);
      const unsigned row_blocks = unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock);
      gram_tile_kernel<<<dim3(unsigned(launched_pairs), row_blocks), kTileThreads, tile_bytes,
                         ctx.stream>>>(as_device<int32_t>(pair_order), rows, n,
                                       as_device<int32_t>(first),
                                       as_device<PanelEntry>(layout), as_device<double>(scales),
                                       gram, partials ? as_device<double>(partials) : nullptr);
      CS_CUDA_CHECK_LAUNCH("gram_tile_kernel");
      clock.add_to(last_phases.tiles);
      // The chunk's buffers go back to the stream-ordered pool when freed here.
    }
    r0 = r1;
    at_r0 = at_r1;
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

SparseGramPhases sparse_gram_last_phases() { return last_phases; }

}  // namespace cellshard
