// col_moments: per gene sum of f, sum of f^2 and count of f > 0, with
// f = x, or expm1(x), then min(f, clip[g]); float64, added to device arrays.
//
// Deterministic through integer arithmetic (fixed_point.cuh), in two passes
// over the shard:
//
// Pass 1 (scales): a warp a row reads every entry once. Each gene gets the
// largest binary exponent of |f| over its entries (a maximum: the same
// whatever the order; a block keeps 16 bits a gene in shared memory, then one
// global atomicMax a gene), so that s_g = 2^E_g > |f| for all its values.
// With a clip, the positive values' exponent is kept apart and capped by the
// clip's (a clip far under a gene's largest value would otherwise waste the
// fixed point's bits). The same pass writes where each row's entries of each
// gene range (below) start.
//
// Pass 2 (sums): each entry is rounded once to the 64-bit integers
// round(f / s_g 2^52) and round((f / s_g)^2 2^52) (|f / s_g| < 1) and added
// with 32-bit shared-memory atomics (two words and a carry) to its gene's
// sums; counts likewise. Integer addition does not depend on the order, so
// the warps add their rows at the same time, with no barrier between rows,
// and the blocks take tiles of rows in whatever order they come. A block
// holds the sums of one range of 2^13 genes (22 bytes a gene, 176 KiB) for
// one tile of kTileRows rows; each row holds a gene once, so a tile's sums
// stay under kTileRows 2^52 = 2^62 and fit 64 bits. After each (tile, range)
// the block adds its sums into 128-bit global sums with 64-bit atomics.
// A last kernel turns each gene's integer sums into doubles (one rounding,
// then an exact scaling by a power of two) and adds them to the outputs.
//
// Accuracy: each value's rounding error is at most 2^-53 s_g < 2^-52 max|f|
// (2^-52 max f^2 for the squares), about what one float64 addition to a
// running sum of that size loses; integer-valued data with |x| < 2^26 sum
// exactly, as they do in float64. Non-finite values (NaN, +-Inf after expm1
// and clip) are flagged per gene in pass 1 and give what a float64 sum gives:
// NaN for any NaN or both infinities, else the infinity; squares NaN or +Inf.
// Counts are exact.
//
// Why: the previous design (float64 sums in shared memory, rows added one
// warp at a time between barriers, gene ranges found by binary searches in
// each row) ran at a tenth of the memory bandwidth (issue 8); here every
// entry is read twice, in full rows or contiguous runs, and added without
// waiting for other warps.
#include "moments_kernels.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"
#include "fixed_point.cuh"
#include "phase_clock.h"
#include "pipeline_device.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

// bench/moments_kernel.cu builds variants of these three.
#ifndef CELLSHARD_MOMENTS_THREADS
#define CELLSHARD_MOMENTS_THREADS 1024
#endif
#ifndef CELLSHARD_MOMENTS_BATCH
#define CELLSHARD_MOMENTS_BATCH 8
#endif
#ifndef CELLSHARD_MOMENTS_RANGE_SHIFT
#define CELLSHARD_MOMENTS_RANGE_SHIFT 13
#endif
constexpr int kThreads = CELLSHARD_MOMENTS_THREADS;  // a block of 32 warps per SM in both passes
constexpr int kBatch = CELLSHARD_MOMENTS_BATCH;      // entries a lane loads at once: 256 a warp
constexpr int kTileRows = 1024;        // rows a block adds into one set of 64-bit sums
constexpr int kFractionBits = 52;      // kTileRows 2^52 = 2^62 < 2^63: no overflow
constexpr int kMaxRangeShift = CELLSHARD_MOMENTS_RANGE_SHIFT;  // 2^13 genes a range in pass 2
constexpr int kSumBytesPerGene = 5 * 4 + 2;  // four sum words, a count, the exponent
constexpr size_t kStartsBudget = size_t(256) << 20;  // bytes of range starts at once

// Per-gene flags of pass 1: which non-finite values the gene has.
constexpr unsigned kHasNaN = 1u, kHasPosInf = 2u, kHasNegInf = 4u;

// Biased binary exponent of |f| plus one (1 for zero and subnormals): a gene
// whose largest code is c has |f| < 2^(c - 1023) for all its finite values.
__device__ __forceinline__ unsigned exponent_code(double f) {
  return unsigned((__double_as_longlong(f) >> 52) & 0x7ff) + 1u;
}

__device__ __forceinline__ double entry_value(float x, bool use_expm1) {
  const double f = double(x);
  return use_expm1 ? expm1(f) : f;
}

// A code at least exponent_code(expm1(x)) for |x| <= 80, from the float
// function (error under one float ulp, so one more binade covers it): the
// float64 expm1 would cost pass 1 as much time as its memory reads.
__device__ __forceinline__ unsigned expm1_code_bound(float x) {
  return exponent_code(double(expm1f(x))) + 1u;
}

// Raises the 16-bit code of `slot` (two a word) to at least `code`. Codes
// only grow, so a value read without an atomic that is already as large
// settles it: most entries cost one shared-memory load.
__device__ __forceinline__ void raise_code(unsigned* words, int slot, unsigned code) {
  unsigned* w = words + (slot >> 1);
  const int shift = (slot & 1) << 4;
  unsigned old = *reinterpret_cast<volatile unsigned*>(w);
  while (((old >> shift) & 0xffffu) < code) {
    const unsigned want = (old & ~(0xffffu << shift)) | (code << shift);
    const unsigned seen = atomicCAS(w, old, want);
    if (seen == old) break;
    old = seen;
  }
}

// Pass 1, a warp a row over rows [r_begin, r_end).
//  codes (may be null: starts only): codes[g * per_gene + s] = max
//    exponent_code over the gene's finite values, genes [y * code_genes, ...)
//    for block row y; with per_gene = 2 (a clip given) s = 1 holds the
//    positive values' and s = 0 the others', since the clip bounds only the
//    positive ones; flags[g] |= which non-finite values it has (after the clip).
//  starts (may be null): for rows r < starts_end, starts[(r - r_begin) *
//    (n_ranges + 1) + j] = how many of the row's entries have genes below
//    j << range_shift (j = 0 .. n_ranges). Written by block row 0 only.
__global__ void __launch_bounds__(kThreads, 1)
gene_codes_kernel(int64_t r_begin, int64_t r_end, int64_t starts_end, int32_t n_cols,
                  int32_t code_genes, int per_gene, int range_shift, int n_ranges,
                  const int64_t* __restrict__ indptr, const int32_t* __restrict__ indices,
                  const float* __restrict__ values, bool use_expm1,
                  const double* __restrict__ clip, unsigned* codes, unsigned* flags,
                  int32_t* starts) {
  extern __shared__ unsigned code_words[];
  const bool do_codes = codes != nullptr;
  const int32_t cg0 = int32_t(blockIdx.y) * code_genes;
  const int32_t cg1 = int32_t(min(int64_t(cg0) + code_genes, int64_t(n_cols)));
  const int n_slots = (cg1 - cg0) * per_gene;
  const int n_words = (n_slots + 1) / 2;
  if (do_codes)
    for (int i = threadIdx.x; i < n_words; i += blockDim.x) code_words[i] = 0u;
  __syncthreads();
  const int lane = lane_id();
  const int64_t warps = (int64_t(gridDim.x) * blockDim.x) >> 5;
  for (int64_t r = r_begin + ((int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5); r < r_end;
       r += warps) {
    const int64_t lo = indptr[r], hi = indptr[r + 1];
    int32_t* st = (starts && blockIdx.y == 0 && r < starts_end)
                      ? starts + (r - r_begin) * (n_ranges + 1) : nullptr;
    int carried = -1;  // range of the entry before this batch's first
    for (int64_t base = lo; base < hi; base += kBatch * 32) {
      int32_t g[kBatch];
      float x[kBatch];
#pragma unroll
      for (int u = 0; u < kBatch; ++u) {
        const int64_t k = base + u * 32 + lane;
        g[u] = k < hi ? indices[k] : -1;
        x[u] = (do_codes && k < hi) ? values[k] : 0.0f;
      }
#pragma unroll
      for (int u = 0; u < kBatch; ++u) {
        const int64_t k = base + u * 32 + lane;
        if (st) {  // ranges that start at this entry: those after the previous entry's
          const int pk = k < hi ? min(g[u] >> range_shift, n_ranges) : n_ranges;
          int pp = __shfl_up_sync(kFullWarp, pk, 1);
          if (lane == 0) pp = carried;
          if (k < hi)
            for (int p = pp + 1; p <= pk; ++p) st[p] = int32_t(k - lo);
          carried = __shfl_sync(kFullWarp, pk, 31);
        }
        if (!do_codes || g[u] < cg0 || g[u] >= cg1) continue;
        const int slot = (g[u] - cg0) * per_gene;
        if (use_expm1 && fabsf(x[u]) <= 80.0f) {  // expm1(x) has the sign of x
          raise_code(code_words, slot + (per_gene == 2 && x[u] > 0.0f), expm1_code_bound(x[u]));
          continue;
        }
        double f = entry_value(x[u], use_expm1);
        if (!isfinite(f)) {  // rare: the clip may make it finite
          if (clip && clip[g[u]] < f) f = clip[g[u]];
          if (!isfinite(f)) {
            atomicOr(flags + g[u], isnan(f) ? kHasNaN : f > 0 ? kHasPosInf : kHasNegInf);
            continue;
          }
        }
        raise_code(code_words, slot + (per_gene == 2 && f > 0.0), exponent_code(f));
      }
      __syncwarp();  // lanes that met in raise_code's loop must not stay apart
    }
    if (st) {  // ranges after the last entry's start at the row's end
      const int last = hi > lo ? min(indices[hi - 1] >> range_shift, n_ranges) : -1;
      for (int p = last + 1 + lane; p <= n_ranges; p += 32) st[p] = int32_t(hi - lo);
    }
  }
  if (!do_codes) return;
  __syncthreads();
  for (int i = threadIdx.x; i < n_slots; i += blockDim.x) {
    const unsigned c = (code_words[i >> 1] >> ((i & 1) << 4)) & 0xffffu;
    if (c != 0u) atomicMax(codes + int64_t(cg0) * per_gene + i, c);
  }
}

__device__ __forceinline__ int code_exponent(unsigned code) {
  return code != 0u ? int(code) - 1023 : -1022;
}

// E_g from the codes: |f| < 2^E_g for every finite value of gene g, the clip
// included: min(f, c) is f for f <= c; for c >= 0 the positive values are at
// most c, for c < 0 all the others become c.
__global__ void gene_exponents_kernel(int64_t n_cols, const unsigned* __restrict__ codes,
                                      const double* __restrict__ clip, unsigned* flags,
                                      short* exponent) {
  for (int64_t g = global_thread_id(); g < n_cols; g += grid_thread_count()) {
    int e;
    if (!clip) {
      e = code_exponent(codes[g]);
    } else {  // codes [2g]: values <= 0, [2g + 1]: positive values
      const unsigned lower = codes[2 * g], upper = codes[2 * g + 1];
      const double c = clip[g];
      e = code_exponent(lower);
      if (c >= 0.0) {
        e = max(e, min(code_exponent(upper), code_exponent(exponent_code(c))));
      } else if (c < 0.0) {
        if (isfinite(c)) e = max(e, code_exponent(exponent_code(c)));
        else if (lower != 0u || upper != 0u) flags[g] |= kHasNegInf;  // all finite values become -Inf
      } else {  // NaN: no clip
        e = max(e, code_exponent(upper));
      }
    }
    exponent[g] = short(max(e, -1022));
  }
}

// The integer sums of every gene, in global memory.
struct GeneSums {
  unsigned long long* sum;     // 128 bits a gene: [2g] low word, [2g + 1] high word
  unsigned long long* sum_sq;  // likewise
  unsigned long long* count;
};

// Pass 2 over rows [r_begin, r_end), in tiles of kTileRows rows taken from
// *next_tile; ranges of 2^range_shift genes, range_cap slots in shared memory.
__global__ void __launch_bounds__(kThreads, 1)
moment_sums_kernel(int64_t r_begin, int64_t r_end, int32_t n_cols, int range_shift,
                   int range_cap, int n_ranges, const int64_t* __restrict__ indptr,
                   const int32_t* __restrict__ indices, const float* __restrict__ values,
                   bool use_expm1, const double* __restrict__ clip,
                   const int32_t* __restrict__ starts, const short* __restrict__ exponent,
                   GeneSums sums, unsigned* next_tile) {
  extern __shared__ unsigned long long sum_shared[];
  unsigned* sum_lo = reinterpret_cast<unsigned*>(sum_shared);
  int* sum_hi = reinterpret_cast<int*>(sum_lo + range_cap);
  unsigned* sq_lo = reinterpret_cast<unsigned*>(sum_hi + range_cap);
  int* sq_hi = reinterpret_cast<int*>(sq_lo + range_cap);
  unsigned* count = reinterpret_cast<unsigned*>(sq_hi + range_cap);
  short* expo = reinterpret_cast<short*>(count + range_cap);
  __shared__ unsigned tile_taken;
  __shared__ int row_taken;
  for (int i = threadIdx.x; i < range_cap; i += blockDim.x) {
    sum_lo[i] = 0u;
    sum_hi[i] = 0;
    sq_lo[i] = 0u;
    sq_hi[i] = 0;
    count[i] = 0u;
  }
  const int lane = lane_id();
  const int64_t n_tiles = (r_end - r_begin + kTileRows - 1) / kTileRows;
  const double to_fixed = 0x1p52;
  for (;;) {
    if (threadIdx.x == 0) tile_taken = atomicAdd(next_tile, 1u);
    __syncthreads();
    const int64_t tile = tile_taken;
    if (tile >= n_tiles) break;
    const int64_t t0 = r_begin + tile * kTileRows;
    const int rows = int(min(int64_t(kTileRows), r_end - t0));
    for (int j = 0; j < n_ranges; ++j) {
      const int32_t g0 = j << range_shift;
      const int width = int(min(int64_t(range_cap), int64_t(n_cols) - g0));
      for (int i = threadIdx.x; i < width; i += blockDim.x) expo[i] = exponent[g0 + i];
      if (threadIdx.x == 0) row_taken = 0;
      __syncthreads();
      for (;;) {  // a row at a time to each warp, in any order
        int i = 0;
        if (lane == 0) i = atomicAdd(&row_taken, 1);
        i = __shfl_sync(kFullWarp, i, 0);
        if (i >= rows) break;
        const int64_t r = t0 + i;
        const int64_t b = indptr[r];
        int32_t s = 0, e;
        if (starts) {
          const int32_t* st = starts + (r - r_begin) * (n_ranges + 1) + j;
          s = st[0];
          e = st[1];
        } else {
          e = int32_t(indptr[r + 1] - b);
        }
        for (int32_t base = s; base < e; base += kBatch * 32) {
          int32_t g[kBatch];
          float x[kBatch];
#pragma unroll
          for (int u = 0; u < kBatch; ++u) {
            const int32_t k = base + u * 32 + lane;
            g[u] = k < e ? indices[b + k] : -1;
            x[u] = k < e ? values[b + k] : 0.0f;
          }
#pragma unroll
          for (int u = 0; u < kBatch; ++u) {
            const unsigned slot = unsigned(g[u] - g0);
            if (slot >= unsigned(width)) continue;  // past the row's end (or a stray index)
            double f = entry_value(x[u], use_expm1);
            if (clip && clip[g[u]] < f) f = clip[g[u]];
            if (f == 0.0) continue;  // adds nothing
            if (f > 0.0) atomicAdd(count + slot, 1u);
            const double y = f * inverse_power_of_two(expo[slot]);  // |y| < 1, exact
            const double z = y * to_fixed;                           // exact
            add_fixed64(sum_lo + slot, sum_hi + slot, __double2ll_rn(z));
            add_fixed64(sq_lo + slot, sq_hi + slot, __double2ll_rn(y * z));
          }
          __syncwarp();
        }
      }
      __syncthreads();
      // Into the 128-bit sums, and zero for the next (tile, range).
      for (int i = threadIdx.x; i < width; i += blockDim.x) {
        const int64_t g = int64_t(g0) + i;
        const long long s1 = join_fixed64(sum_hi[i], sum_lo[i]);
        const long long s2 = join_fixed64(sq_hi[i], sq_lo[i]);
        if (s1 != 0) add_fixed128(sums.sum + 2 * g, s1);
        if (s2 != 0) add_fixed128(sums.sum_sq + 2 * g, s2);
        if (count[i] != 0u) atomicAdd(sums.count + g, (unsigned long long)count[i]);
        sum_lo[i] = 0u;
        sum_hi[i] = 0;
        sq_lo[i] = 0u;
        sq_hi[i] = 0;
        count[i] = 0u;
      }
    }
    __syncthreads();  // every thread has read tile_taken
  }
}

// out += the sums of each gene as doubles.
__global__ void moments_finish_kernel(int64_t n_cols, GeneSums sums,
                                      const short* __restrict__ exponent,
                                      const unsigned* __restrict__ flags, ColumnMoments out) {
  const double inf = __longlong_as_double(0x7ff0000000000000ll);
  const double nan = __longlong_as_double(0x7ff8000000000000ll);
  for (int64_t g = global_thread_id(); g < n_cols; g += grid_thread_count()) {
    const unsigned fl = flags[g];
    double s, ss;
    if (fl != 0u) {  // what float64 sums give: the infinities win over finite values
      const bool both = (fl & kHasPosInf) && (fl & kHasNegInf);
      s = (fl & kHasNaN) || both ? nan : (fl & kHasPosInf) ? inf : -inf;
      ss = (fl & kHasNaN) ? nan : inf;
    } else {
      const int e = exponent[g];
      s = ldexp(fixed128_to_double(sums.sum[2 * g], sums.sum[2 * g + 1]), e - kFractionBits);
      ss = ldexp(fixed128_to_double(sums.sum_sq[2 * g], sums.sum_sq[2 * g + 1]),
                 2 * e - kFractionBits);
    }
    if (out.sum) out.sum[g] += s;
    if (out.sum_sq) out.sum_sq[g] += ss;
    if (out.n_positive) out.n_positive[g] += double(sums.count[g]);
  }
}

thread_local MomentPhases last_phases;


int blocks_per_sm(const void* kernel, size_t shared_bytes) {
  int n = 0;
  CS_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, shared_bytes));
  return std::max(n, 1);
}

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

}  // namespace

MomentPhases last_moment_phases() { return last_phases; }

void col_moments_on_device(const CsrView& a, const float* values, const MomentOptions& options,
                           ColumnMoments out) {
  if (a.nnz == 0 || a.n_cols == 0 || a.n_rows == 0) return;  // nothing to add
  CS_CHECK(values != nullptr, "internal: col_moments without values");
  CS_CHECK(a.n_cols <= int64_t(INT32_MAX), "internal: col_moments with more than 2^31 genes");
  const DeviceContext& ctx = use_device(a.device);
  last_phases = MomentPhases{};
  PhaseClock clock(ctx, "CELLSHARD_MOMENTS_PROFILE");
  const int64_t n = a.n_cols;
  int max_shared = 0;
  CS_CUDA_CHECK(cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                       ctx.device));
  const size_t usable = size_t(max_shared) - 64;  // room for the static shared words

  // Pass 2's gene ranges: as wide as shared memory allows, at most 2^13.
  int range_shift = kMaxRangeShift;
  while (range_shift > 5 && (size_t(1) << range_shift) * kSumBytesPerGene > usable) --range_shift;
  const int n_ranges = int((n + (int64_t(1) << range_shift) - 1) >> range_shift);
  const int range_cap = int(std::min<int64_t>(int64_t(1) << range_shift, (n + 1) / 2 * 2));
  const size_t sum_shared = round_up(size_t(range_cap) * kSumBytesPerGene, 8);
  // Pass 1's code ranges (16 bits a code, two codes a gene with a clip): one
  // range for up to about 110,000 genes (55,000 with a clip).
  const int per_gene = options.clip ? 2 : 1;
  const int64_t code_genes = std::min<int64_t>(n, int64_t(usable / 4) * 2 / per_gene);
  const int64_t code_ranges = (n + code_genes - 1) / code_genes;
  const size_t code_shared = size_t((code_genes * per_gene + 1) / 2) * 4;
  CS_CHECK(code_ranges <= 65535, "internal: col_moments over too many genes for one grid");

  // Rows whose range starts are held at once (all of them, mostly).
  int64_t chunk_rows = a.n_rows;
  if (n_ranges > 1) {
    chunk_rows = std::max<int64_t>(
        kTileRows, int64_t(kStartsBudget / (size_t(n_ranges + 1) * 4)) / kTileRows * kTileRows);
    if (const char* env = std::getenv("CELLSHARD_MOMENTS_CHUNK_ROWS"))  // tests
      chunk_rows = std::max<int64_t>(1, std::atoll(env));
    chunk_rows = std::min(chunk_rows, a.n_rows);
  }
  const int64_t n_chunks = (a.n_rows + chunk_rows - 1) / chunk_rows;

  // One buffer: the 128-bit sums, counts, codes, flags, tile counters (all
  // zeroed), then the exponents.
  const size_t n_sz = size_t(n);
  const size_t zeroed_bytes =
      n_sz * (2 + 2 + 1) * 8 + n_sz * 4 * size_t(per_gene + 1) + size_t(n_chunks) * 4;
  BufferPtr state = make_buffer(a.device, round_up(zeroed_bytes, 8) + n_sz * sizeof(short));
  CS_CUDA_CHECK(cudaMemsetAsync(state->data(), 0, zeroed_bytes, ctx.stream));
  unsigned long long* words = state->as<unsigned long long>();
  GeneSums sums{words, words + 2 * n_sz, words + 4 * n_sz};
  unsigned* codes = reinterpret_cast<unsigned*>(words + 5 * n_sz);
  unsigned* flags = codes + n_sz * per_gene;
  unsigned* tile_counters = flags + n_sz;
  short* exponent = reinterpret_cast<short*>(state->as<char>() + round_up(zeroed_bytes, 8));
  BufferPtr clip = upload_array(a.device, options.clip, n_sz);
  const double* clip_d = device_ptr<double>(clip);
  BufferPtr starts;
  if (n_ranges > 1)
    starts = make_buffer(a.device, size_t(chunk_rows) * size_t(n_ranges + 1) * sizeof(int32_t));
  int32_t* starts_d = starts ? starts->as<int32_t>() : nullptr;

  CS_CUDA_CHECK(cudaFuncSetAttribute(gene_codes_kernel,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, int(code_shared)));
  CS_CUDA_CHECK(cudaFuncSetAttribute(moment_sums_kernel,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, int(sum_shared)));
  const int64_t code_slots = int64_t(ctx.sm_count) * blocks_per_sm((const void*)gene_codes_kernel,
                                                                    code_shared);
  const int64_t sum_slots = int64_t(ctx.sm_count) * blocks_per_sm((const void*)moment_sums_kernel,
                                                                   sum_shared);
  auto row_blocks = [&](int64_t rows) {  // a warp a row
    return unsigned(std::max<int64_t>(1, std::min(code_slots, (rows + 31) / 32)));
  };

  // Pass 1 over all rows, with the first chunk's range starts.
  gene_codes_kernel<<<dim3(row_blocks(a.n_rows), unsigned(code_ranges)), kThreads, code_shared,
                      ctx.stream>>>(0, a.n_rows, chunk_rows, int32_t(n), int32_t(code_genes),
                                    per_gene, range_shift, n_ranges, a.indptr, a.indices, values,
                                    options.expm1, clip_d, codes, flags, starts_d);
  CS_CUDA_CHECK_LAUNCH("gene_codes_kernel");
  gene_exponents_kernel<<<grid_blocks(ctx, n, kBlockThreads), kBlockThreads, 0, ctx.stream>>>(
      n, codes, clip_d, flags, exponent);
  CS_CUDA_CHECK_LAUNCH("gene_exponents_kernel");
  clock.add_to(last_phases.scales);

  for (int64_t c = 0; c < n_chunks; ++c) {
    const int64_t r0 = c * chunk_rows, r1 = std::min(a.n_rows, r0 + chunk_rows);
    if (c > 0 && starts_d) {  // this chunk's range starts
      gene_codes_kernel<<<dim3(row_blocks(r1 - r0), 1), kThreads, 0, ctx.stream>>>(
          r0, r1, r1, int32_t(n), int32_t(code_genes), per_gene, range_shift, n_ranges, a.indptr,
          a.indices, values, options.expm1, clip_d, nullptr, nullptr, starts_d);
      CS_CUDA_CHECK_LAUNCH("gene_codes_kernel (starts)");
    }
    const int64_t tiles = (r1 - r0 + kTileRows - 1) / kTileRows;
    moment_sums_kernel<<<unsigned(std::min(sum_slots, tiles)), kThreads, sum_shared,
                         ctx.stream>>>(r0, r1, int32_t(n), range_shift, range_cap, n_ranges,
                                       a.indptr, a.indices, values, options.expm1, clip_d,
                                       starts_d, exponent, sums, tile_counters + c);
    CS_CUDA_CHECK_LAUNCH("moment_sums_kernel");
  }
  clock.add_to(last_phases.sums);

  moments_finish_kernel<<<grid_blocks(ctx, n, kBlockThreads), kBlockThreads, 0, ctx.stream>>>(
      n, sums, exponent, flags, out);
  CS_CUDA_CHECK_LAUNCH("moments_finish_kernel");
  synchronize(ctx);
  clock.add_to(last_phases.finish);
}

}  // namespace cellshard
