// multiply: out = X V + 1 shift^T for a host n_cols x k matrix V
// (column-major), out an n_rows x k matrix on the shard's device
// (column-major, leading dimension ld_out), float64. The scores stay on the
// GPU: R reads them block by block when asked (a 1.4M-cell PCA is 1.1 GB,
// whose copy into a fresh R matrix cost more than the product). Two methods:
//
// - Dense rows: blocks of rows are densified and cublasDgemm multiplies them
//   by V, on the FP64 tensor cores.
// - Sparse rows (the seed pipeline's 5,000 HVGs, 3.5% stored: 0.025 s
//   against the dense method's 0.076 s on an H100, with V in float64): V
//   goes to the device transposed (row g of V contiguous, float32, each row
//   padded to 32 bytes).
//   One warp per row of X: the warp walks the row's values in order and lane
//   j accumulates columns j, j + 32, j + 64, j + 96 of the current pass (128
//   columns a pass), so each out[r, j] is a sequential sum over the row's
//   values in index order: the host's loop, bit for bit (a value times a
//   loading, two floats, is exact in float64, so a fused multiply-add rounds
//   where the host's multiply then add does). The kernel reads V's row for
//   every stored value (from L2; 2e11 bytes at the seed share with V in
//   float64, halved by float32 rows), and waits on those reads: a warp loads
//   the rows of 4 values before using the first. Seed share, H100
//   (bench/pca_methods.R, session 13): 0.020 s loading one at a time, 0.021
//   two, 0.018 four, the same bits. A shared-memory copy of the frequent
//   genes' rows made it slower (0.029 s with none copied, 0.037-0.043 s with
//   64-192 KiB), probably because the extra shuffle and branch per value
//   kept one value's loads from overlapping the next's. So did all of V in
//   shared memory, a panel of genes at a time for a block of 96 rows (0.032-
//   0.034 s against 0.017, BENCHMARKS.md, session 17): each block copies and
//   widens all of V, and waits at every panel.
//   What the kernel reads from L2 it can read from L1 instead where a row of
//   V is read again before it is evicted: the most frequent genes' rows
//   (ranked on a sample of the entries; after HVG selection the top few
//   hundred hold about half the values) are loaded with L1's evict-last
//   priority (and, when asked, the others with evict-first). The flags travel
//   with each value's gene (its top bits), so the load is chosen without a
//   branch. Loading the others with no allocation in L1 took the seed share's
//   projection from 0.016 to 0.023 s: L1 keeps more than the frequent rows.
// Both give the same bits from run to run.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#include "../core/errors.h"
#include "cublas_handles.h"
#include "cuda_check.h"
#include "dense_rows.h"
#include "device_memory.h"
#include "device_context.h"
#include "pipeline_device.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

constexpr int kColsPerLane = 4;
constexpr int kColsPerPass = 32 * kColsPerLane;
// Stored values whose rows of V a warp loads at once (the kernel's Ahead);
// CELLSHARD_MULTIPLY_AHEAD = 1 | 2 | 4 overrides it (benchmarks, tests).
constexpr int kLoadsAhead = 4;
// Seconds of each method, from bench/pca_methods.R on an H100 (1,430,154 x
// 5,000 at 3.51%, k = 100: sparse 0.025 s with V in float64, 0.020 s in
// float32 (bench/pca_parts.R), 0.018 s loading 4 rows of V at once; dense
// 0.076 s). The gathering
// kernel reads V's row for every stored value, once per pass of 128 columns;
// the dense method writes and reads every element of the densified rows
// (about 6e-12 s an element at the copy bandwidth) and multiplies it by k
// columns (the rest of the 0.076 s). Crossover: near 13% stored at k = 100.
constexpr double kSparseSecondsPerValuePass = 0.8e-10;
constexpr double kDenseSecondsPerElement = 6.0e-12;
constexpr double kDenseSecondsPerElementColumn = 4.6e-14;

// A loading of a frequent gene, kept in L1 as long as it can be; one of a
// rare gene, evicted from L1 first.
__device__ __forceinline__ float load_kept(const float* p) {
  float x;
  asm("ld.global.nc.L1::evict_last.f32 %0, [%1];" : "=f"(x) : "l"(p));
  return x;
}
__device__ __forceinline__ float load_evicted_first(const float* p) {
  float x;
  asm("ld.global.nc.L1::evict_first.f32 %0, [%1];" : "=f"(x) : "l"(p));
  return x;
}

// The top bits of a value's gene: its row of V is a frequent gene's (kept in
// L1), or a rare one's to evict first; neither: L1's default.
constexpr uint32_t kFrequentBit = 0x80000000u, kRareBit = 0x40000000u;
constexpr uint32_t kGeneBits = ~(kFrequentBit | kRareBit);
// frequent[g] of the genes' flags
constexpr unsigned char kFrequentGene = 1, kRareGene = 2;

// Adds the warp's values t .. t + U - 1 of this round (lane u holds value u's
// gene g, with kFrequentBit where it is a frequent one, and value v) to acc:
// the rows of V of all U are requested before the first is used (the loads'
// latency, not the arithmetic, bounds the kernel); the sums still take the
// values one by one, in order.
template <int U>
__device__ __forceinline__ void add_values(int t, uint32_t g, double v,
                                           const float* __restrict__ vt, int stride, int j0,
                                           int kc, double (&acc)[kColsPerLane]) {
  const int lane = lane_id();
  double x[U];
  float w[U][kColsPerLane];
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const uint32_t gt = __shfl_sync(kFullWarp, g, t + u);
    x[u] = __shfl_sync(kFullWarp, v, t + u);
    const float* vrow = vt + int64_t(gt & kGeneBits) * stride + j0;
    const bool kept = (gt & kFrequentBit) != 0, rare = (gt & kRareBit) != 0;
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) {
      const int j = lane + 32 * c;
      w[u][c] = j >= kc ? 0.0f
                : kept  ? load_kept(vrow + j)
                : rare  ? load_evicted_first(vrow + j)
                        : vrow[j];
    }
  }
#pragma unroll
  for (int u = 0; u < U; ++u)
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c)
      if (lane + 32 * c < kc) acc[c] = fma(x[u], double(w[u][c]), acc[c]);  // exact product
}

// Rows of X times columns [j0, j0 + kc) of V (vt: gene g's k values at g *
// stride), into out (column-major, leading dimension ld); Ahead values' rows
// of V loaded at once; frequent[g]: kFrequentGene for the genes whose rows
// L1 keeps, kRareGene for those it evicts first (nullptr: L1's default).
template <int Ahead>
__global__ void multiply_kernel(int64_t n, const int64_t* __restrict__ indptr,
                                const int32_t* __restrict__ indices,
                                const float* __restrict__ values, const float* __restrict__ vt,
                                int stride, int j0, int kc,
                                const unsigned char* __restrict__ frequent,
                                const double* __restrict__ shift, double* __restrict__ out,
                                int64_t ld) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < n; i += grid_warp_count()) {
    const int64_t begin = indptr[i], end = indptr[i + 1];
    double acc[kColsPerLane];
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) acc[c] = 0.0;
    for (int64_t base = begin; base < end; base += 32) {
      uint32_t g = 0;
      double v = 0.0;
      if (base + lane < end) {
        g = uint32_t(indices[base + lane]);
        v = double(values[base + lane]);
        if (frequent) {
          const unsigned char flag = frequent[g];
          g |= flag == kFrequentGene ? kFrequentBit : flag == kRareGene ? kRareBit : 0u;
        }
      }
      const int count = int(min(int64_t(32), end - base));
      int t = 0;
      for (; t + Ahead <= count; t += Ahead) add_values<Ahead>(t, g, v, vt, stride, j0, kc, acc);
      for (; t < count; ++t) add_values<1>(t, g, v, vt, stride, j0, kc, acc);
    }
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) {
      const int j = lane + 32 * c;
      if (j < kc) out[i + int64_t(j0 + j) * ld] = shift ? acc[c] + shift[j0 + j] : acc[c];
    }
  }
}

// counts[g] += 1 for the gene of each of `samples` entries spread evenly over
// the nnz (the first of each of `samples` equal stretches).
__global__ void sample_gene_counts_kernel(int64_t nnz, int64_t samples,
                                          const int32_t* __restrict__ indices, int* counts) {
  for (int64_t i = global_thread_id(); i < samples; i += grid_thread_count())
    atomicAdd(&counts[indices[i * nnz / samples]], 1);
}

// vt[g * stride + j] = v[j * n_cols + g] for j < k, 0 for k <= j < stride:
// V (n_cols x k, column-major) with each gene's row contiguous.
__global__ void transpose_loadings_kernel(int64_t n_cols, int k, int stride,
                                          const float* __restrict__ v, float* __restrict__ vt) {
  for (int64_t idx = global_thread_id(); idx < n_cols * stride; idx += grid_thread_count()) {
    const int64_t g = idx / stride;
    const int j = int(idx - g * stride);
    vt[idx] = j < k ? v[int64_t(j) * n_cols + g] : 0.0f;
  }
}

// Adds shift[j] to column j of the column-major rows x k block (leading
// dimension ld); with `fill`, sets it to shift[j] (0 without a shift).
__global__ void column_shift_kernel(int64_t rows, int k, const double* __restrict__ shift,
                                    bool fill, double* block, int64_t ld) {
  for (int64_t idx = global_thread_id(); idx < rows * k; idx += grid_thread_count()) {
    const int64_t j = idx / rows, i = idx - j * rows;
    const double add = shift ? shift[j] : 0.0;
    double& x = block[i + j * ld];
    x = fill ? add : x + add;
  }
}

void shift_columns(const DeviceContext& ctx, int64_t rows, int k, const double* shift, bool fill,
                   double* out, int64_t ld) {
  column_shift_kernel<<<grid_blocks(ctx, rows * k, kBlockThreads), kBlockThreads, 0,
                        ctx.stream>>>(rows, k, shift, fill, out, ld);
  CS_CUDA_CHECK_LAUNCH("column_shift_kernel");
}

void multiply_dense(const DeviceContext& ctx, const CsrView& a, const float* values,
                    const float* v, int k, const double* shift, double* out, int64_t ld_out) {
  const int64_t n = a.n_cols;
  const std::vector<double> v_double(v, v + size_t(n) * size_t(k));
  BufferPtr dv = upload_array(a.device, v_double.data(), v_double.size());
  BufferPtr d_shift = upload_array(a.device, shift, size_t(k));
  const int64_t block_rows = dense_block_rows(a);
  BufferPtr dense = make_buffer(a.device, size_t(block_rows) * size_t(n) * sizeof(double));
  CublasLease blas(ctx);
  const double one = 1.0, zero = 0.0;
  for (int64_t r0 = 0; r0 < a.n_rows; r0 += block_rows) {
    const int64_t rows = std::min(block_rows, a.n_rows - r0);
    densify_rows(ctx, a, values, r0, rows, dense->as<double>());
    // out rows [r0, r0 + rows) (rows x k) = dense^T (rows x n) * V (n x k)
    CS_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(rows), k, int(n), &one,
                                dense->as<double>(), int(n), dv->as<double>(), int(n), &zero,
                                out + r0, int(ld_out)));
    if (d_shift) shift_columns(ctx, rows, k, d_shift->as<double>(), false, out + r0, ld_out);
  }
  synchronize(ctx);  // `dense` goes back to the pool when this returns
}

// Bytes of L1 (256 KiB an SM on an H100, less what other data needs) that
// the frequent genes' rows of V may take, and the entries sampled to rank
// the genes. CELLSHARD_MULTIPLY_FREQUENT_GENES sets how many genes (0: none;
// benchmarks and tests), CELLSHARD_MULTIPLY_RARE_FIRST=1 marks the others'
// rows to be evicted first.
constexpr size_t kFrequentRowsBytes = 160 * 1024;
constexpr int64_t kGeneSamples = int64_t(1) << 20;

// frequent[g] = kFrequentGene for the genes of most sampled entries that fit
// kFrequentRowsBytes as rows of `row_bytes`; nullptr when none are wanted.
BufferPtr frequent_genes(const DeviceContext& ctx, const CsrView& a, size_t row_bytes) {
  int64_t wanted = int64_t(kFrequentRowsBytes / row_bytes);
  if (const char* env = std::getenv("CELLSHARD_MULTIPLY_FREQUENT_GENES")) wanted = std::atoll(env);
  const char* rare_env = std::getenv("CELLSHARD_MULTIPLY_RARE_FIRST");
  const bool rare_first = rare_env && std::strcmp(rare_env, "1") == 0;
  wanted = std::min(wanted, a.n_cols);
  if (wanted <= 0 || a.n_cols > int64_t(kGeneBits)) return nullptr;
  const int64_t samples = std::min(a.nnz, kGeneSamples);
  BufferPtr counts = make_buffer(a.device, size_t(a.n_cols) * sizeof(int));
  CS_CUDA_CHECK(cudaMemsetAsync(counts->data(), 0, counts->bytes(), ctx.stream));
  sample_gene_counts_kernel<<<grid_blocks(ctx, samples, kBlockThreads), kBlockThreads, 0,
                              ctx.stream>>>(a.nnz, samples, a.indices, counts->as<int>());
  CS_CUDA_CHECK_LAUNCH("sample_gene_counts_kernel");
  std::vector<int> host(static_cast<size_t>(a.n_cols));
  CS_CUDA_CHECK(cudaMemcpyAsync(host.data(), counts->data(), counts->bytes(),
                                cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
  std::vector<int32_t> order(host.size());
  std::iota(order.begin(), order.end(), 0);
  // the most sampled first, ties by gene (the same flags every run)
  std::partial_sort(order.begin(), order.begin() + wanted, order.end(), [&](int32_t x, int32_t y) {
    return host[size_t(x)] != host[size_t(y)] ? host[size_t(x)] > host[size_t(y)] : x < y;
  });
  std::vector<unsigned char> flags(host.size(), rare_first ? kRareGene : 0);
  for (int64_t i = 0; i < wanted; ++i)
    if (host[size_t(order[size_t(i)])] > 0) flags[size_t(order[size_t(i)])] = kFrequentGene;
  return upload_array(a.device, flags.data(), flags.size());
}

void multiply_sparse(const DeviceContext& ctx, const CsrView& a, const float* values,
                     const float* v, int k, const double* shift, double* out, int64_t ld_out) {
  BufferPtr d_shift = upload_array(a.device, shift, size_t(k));
  // Row g of V contiguous on the device, each row starting a 32-byte sector:
  // V goes up as it is and is transposed there (on the host, a fresh 2 MB
  // array and its strided writes took 1-2 ms of the seed share's projection).
  const int64_t n_cols = a.n_cols;
  const int stride = (k + 7) / 8 * 8;
  BufferPtr v_columns = upload_array(a.device, v, size_t(n_cols) * size_t(k));
  BufferPtr vt = make_buffer(a.device, size_t(n_cols) * size_t(stride) * sizeof(float));
  transpose_loadings_kernel<<<grid_blocks(ctx, n_cols * stride, kBlockThreads), kBlockThreads, 0,
                              ctx.stream>>>(n_cols, k, stride, v_columns->as<float>(),
                                            vt->as<float>());
  CS_CUDA_CHECK_LAUNCH("transpose_loadings_kernel");
  const BufferPtr frequent = frequent_genes(ctx, a, size_t(std::min(stride, kColsPerPass)) * sizeof(float));
  int ahead = kLoadsAhead;
  if (const char* env = std::getenv("CELLSHARD_MULTIPLY_AHEAD")) ahead = std::atoi(env);
  const auto kernel = ahead == 1 ? multiply_kernel<1> : ahead == 2 ? multiply_kernel<2>
                                                                   : multiply_kernel<4>;
  for (int j0 = 0; j0 < k; j0 += kColsPerPass) {
    const int kc = std::min(kColsPerPass, k - j0);
    kernel<<<grid_blocks(ctx, a.n_rows, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
        a.n_rows, a.indptr, a.indices, values, vt->as<float>(), stride, j0, kc,
        device_ptr<unsigned char>(frequent), device_ptr<double>(d_shift), out, ld_out);
    CS_CUDA_CHECK_LAUNCH("multiply_kernel");
  }
  synchronize(ctx);  // V and the shift go back to the pool when this returns
}

}  // namespace

bool multiply_uses_dense_rows(const CsrView& a, int k) {
  if (a.n_cols > int64_t(INT32_MAX)) return false;
  if (const char* force = std::getenv("CELLSHARD_MULTIPLY_METHOD")) {  // benchmarks
    if (std::strcmp(force, "sparse") == 0) return false;
    if (std::strcmp(force, "dense") == 0) return true;
  }
  const double passes = double((k + kColsPerPass - 1) / kColsPerPass);
  const double sparse = double(a.nnz) * passes * kSparseSecondsPerValuePass;
  const double dense = double(a.n_rows) * double(a.n_cols) *
                       (kDenseSecondsPerElement + double(k) * kDenseSecondsPerElementColumn);
  return dense < sparse;
}

void multiply_on_device(const CsrView& a, const float* values, const float* v, int k,
                        const double* shift, double* out, int64_t ld_out) {
  CS_CHECK(k >= 0, "internal: multiply by a matrix with a negative number of columns");
  CS_CHECK(ld_out >= a.n_rows, "internal: multiply's output is too short");
  if (k == 0 || a.n_rows == 0) return;
  const DeviceContext& ctx = use_device(a.device);
  if (a.nnz == 0 || a.n_cols == 0) {
    BufferPtr d_shift = upload_array(a.device, shift, size_t(k));
    shift_columns(ctx, a.n_rows, k, device_ptr<double>(d_shift), true, out, ld_out);
    synchronize(ctx);
    return;
  }
  CS_CHECK(values != nullptr && v != nullptr, "internal: multiply without values");
  if (multiply_uses_dense_rows(a, k)) {
    multiply_dense(ctx, a, values, v, k, shift, out, ld_out);
  } else {
    multiply_sparse(ctx, a, values, v, k, shift, out, ld_out);
  }
}

}  // namespace cellshard
