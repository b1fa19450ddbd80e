// Would a dense block of the most frequent genes on the int8 tensor cores,
// beside the sparse tiles for every other pair, make the Gram faster (issue 8)?
// A random skewed shard with its genes sorted by popularity (most frequent
// last, so the D most frequent are the last P panels, and in a pair of
// panels p >= q the tile kernel's "a" side, four a's a unit, is the denser):
//   - the fraction of the Gram's products among the last D genes;
//   - the sparse Gram whole, and with the pairs of the last P panels left out
//     (CELLSHARD_GRAM_SKIP_PANELS, read by a second build of
//     sparse_gram_tiles.cu with CELLSHARD_GRAM_BENCH_SKIP_PANELS defined and
//     its entry points renamed skip_...);
//   - the last D genes' block exactly in integers: each value rounded to
//     q = round(x / s_g 2^22) (s_g the power of two at or above the gene's
//     largest |x|), cut into three signed 8-bit digits (q = d0 + 2^8 d1 +
//     2^16 d2), densified a sub-chunk of < 2^17 rows at a time (column-major,
//     the rows contiguous), and S^T S with int32 sums by cuBLAS, either as one
//     3D x 3D GEMM or as the six digit pairs i <= j; the digit products
//     combined into exact int64 sums per sub-chunk, added in float64.
//   - how far that block is from the sparse Gram's (largest difference
//     relative to sqrt(G_aa G_bb)).
// bench/gram-device-run.sh builds and runs it with DENSE_SPLIT=1:
//   /tmp/gram_dense_split [rows] [genes] [density] [reps] [P list]
#include <cublas_v2.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "../src/core/buffer.h"
#include "../src/core/errors.h"
#include "../src/cuda/cuda_backend.h"
#include "../src/cuda/device_context.h"
#include "../src/cuda/sparse_gram_tiles.h"
#include "event_timer.cuh"
#include "random_shard.cuh"

using namespace cellshard;

namespace cellshard {  // sparse_gram_tiles.cu built with the panels' knob
bool skip_sparse_gram_lower(const DeviceContext&, const CsrView&, const float*,
                            const RowPointers&, double*);
SparseGramPhases skip_sparse_gram_last_phases();
}  // namespace cellshard

namespace {

constexpr int kQuantBits = 22;
constexpr int kTileRows = 32;  // rows a densify block

// Rows [r0, r0 + rows) of the shard, genes [g0, g0 + d), as three int8 digit
// columns a gene: s[(i * d + g - g0) * ld + r]. A block builds 32 rows in shared memory, then
// writes each column's 32 bytes at once.
__global__ void densify_digits_kernel(int64_t r0, int64_t rows, int g0, int d, int64_t ld,
                                      const int64_t* __restrict__ indptr,
                                      const int32_t* __restrict__ indices,
                                      const float* __restrict__ values,
                                      const float* __restrict__ inv_scale, int8_t* s) {
  extern __shared__ int4 tile4[];
  int8_t* tile = reinterpret_cast<int8_t*>(tile4);  // [3 d][32]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const int n4 = 3 * d * kTileRows / 16;
  for (int64_t t0 = int64_t(blockIdx.x) * kTileRows; t0 < ld; t0 += int64_t(gridDim.x) * kTileRows) {
    for (int i = threadIdx.x; i < n4; i += blockDim.x) tile4[i] = make_int4(0, 0, 0, 0);
    __syncthreads();
    for (int rl = warp; rl < kTileRows; rl += warps) {
      const int64_t r = t0 + rl;
      if (r >= rows) break;
      const int64_t lo = indptr[r0 + r], hi = indptr[r0 + r + 1];
      for (int64_t k0 = lo; k0 < hi; k0 += 32) {
        const int64_t k = k0 + lane;
        const int g = k < hi ? indices[k] - g0 : -1;
        if (g >= 0) {
          const int q = __float2int_rn(values[k] * inv_scale[g0 + g] * float(1 << kQuantBits));
          const int d0 = int(int8_t(q & 255));
          const int q1 = (q - d0) >> 8;
          const int d1 = int(int8_t(q1 & 255));
          const int d2 = (q1 - d1) >> 8;
          tile[(0 * d + g) * kTileRows + rl] = int8_t(d0);
          tile[(1 * d + g) * kTileRows + rl] = int8_t(d1);
          tile[(2 * d + g) * kTileRows + rl] = int8_t(d2);
        }
      }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < n4; i += blockDim.x) {
      const int col = i >> 1, half = i & 1;
      reinterpret_cast<int4*>(s + int64_t(col) * ld + t0)[half] = tile4[i];
    }
    __syncthreads();
  }
}

// acc[a + b d] += (sum over digit pairs of 2^(8(i+j)) P_ij[a, b]) 2^-44 s_a s_b
// for a >= b, from one 3d x 3d GEMM (c3) or six d x d ones (c6: i <= j in
// the order 00 01 02 11 12 22).
__global__ void combine_kernel(int g0, int d, const int32_t* __restrict__ c3,
                               const int32_t* __restrict__ c6, const float* __restrict__ inv_scale,
                               double* acc) {
  const int64_t dd = int64_t(d) * d;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < dd;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int a = int(idx % d), b = int(idx / d);
    if (a < b) continue;
    long long v = 0;
    if (c3) {
      const int64_t ld = 3 * int64_t(d);
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
          v += (long long)c3[(int64_t(i) * d + a) + (int64_t(j) * d + b) * ld] << (8 * (i + j));
    } else {
      int slot = 0;
      for (int i = 0; i < 3; ++i)
        for (int j = i; j < 3; ++j, ++slot) {
          const int32_t* p = c6 + slot * dd;
          long long t = p[a + int64_t(b) * d];
          if (i != j) t += p[b + int64_t(a) * d];
          v += t << (8 * (i + j));
        }
    }
    acc[idx] += ldexp(double(v), -2 * kQuantBits) /
                (double(inv_scale[g0 + a]) * double(inv_scale[g0 + b]));
  }
}

}  // namespace

using gram_bench::seconds_since;

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1430156;
  const int genes = argc > 2 ? std::atoi(argv[2]) : 5000;
  const double density = argc > 3 ? std::atof(argv[3]) : 0.035;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 3;
  std::vector<int> plist;  // dense panels
  {
    std::stringstream ss(argc > 5 ? argv[5] : "4,6,8,10");
    for (std::string t; std::getline(ss, t, ',');) plist.push_back(std::atoi(t.c_str()));
  }
  const int n_panels = (genes + 127) / 128;
  std::vector<int> g0list;  // the dense block's first gene
  for (int p : plist) g0list.push_back(128 * (n_panels - p));
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::printf("%s\n%lld rows x %d genes, density %.4f, skewed, genes sorted by popularity\n",
              cuda_device_description(0).c_str(), (long long)rows, genes, density);
  const DeviceContext& ctx = use_device(0);
  setenv("CELLSHARD_GRAM_PROFILE", "1", 1);
  const size_t n2 = size_t(genes) * size_t(genes);
  BufferPtr gram = make_buffer(0, n2 * 8);
  const auto time_sparse = [&](const gram_bench::Shard& shard, SparseGramPhases& ph) {
    double best = INFINITY;
    for (int rep = 0; rep <= reps; ++rep) {
      ok(cudaMemset(gram->data(), 0, gram->bytes()) == cudaSuccess, "memset");
      ok(cudaDeviceSynchronize() == cudaSuccess, "sync");
      const auto t0 = std::chrono::steady_clock::now();
      ok(skip_sparse_gram_lower(ctx, shard.view, shard.values->as<float>(), shard.host_indptr,
                           gram->as<double>()),
         "sparse gram");
      const double t = seconds_since(t0);
      if (rep > 0 && t < best) {
        best = t;
        ph = skip_sparse_gram_last_phases();
      }
    }
    return best;
  };
  {
    gram_bench::Shard own = gram_bench::make_shard(rows, genes, density, true, 7, false);
    SparseGramPhases ph;
    const double t = time_sparse(own, ph);
    std::printf("the same shard in its genes' random order, sparse Gram: %.4f s (tiles %.4f)\n", t,
                ph.tiles);
  }
  gram_bench::Shard sh = gram_bench::make_shard(rows, genes, density, true, 7, true);
  const int64_t nnz = sh.view.nnz;
  std::vector<int32_t> idx(static_cast<size_t>(nnz));
  std::vector<float> val(static_cast<size_t>(nnz));
  sh.indices->download(idx.data(), idx.size() * 4);
  sh.values->download(val.data(), val.size() * 4);
  // products among the first D genes
  double total = 0;
  std::vector<double> within(plist.size(), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t lo = sh.host_indptr[size_t(r)], hi = sh.host_indptr[size_t(r) + 1];
    const double len = double(hi - lo);
    total += len * (len + 1) / 2;
    for (size_t t = 0; t < plist.size(); ++t) {
      const int64_t c = (idx.data() + hi) - std::lower_bound(idx.data() + lo, idx.data() + hi, g0list[t]);
      within[t] += double(c) * double(c + 1) / 2;
    }
  }
  std::printf("nnz %lld, products %.4e\n", (long long)nnz, total);
  for (size_t t = 0; t < plist.size(); ++t)
    std::printf("  last %2d panels (%4d genes): %.3f of the products\n", plist[t],
                genes - g0list[t], within[t] / total);
  std::vector<float> inv_scale(size_t(genes), 1.0f);
  {
    std::vector<float> mx(size_t(genes), 0.0f);
    for (int64_t k = 0; k < nnz; ++k)
      mx[size_t(idx[size_t(k)])] = std::max(mx[size_t(idx[size_t(k)])], std::fabs(val[size_t(k)]));
    for (int g = 0; g < genes; ++g)
      if (mx[size_t(g)] > 0) {
        int e;
        std::frexp(mx[size_t(g)], &e);  // mx = f 2^e, f in [0.5, 1): 2^e >= mx
        inv_scale[size_t(g)] = std::ldexp(1.0f, -e);
      }
  }
  BufferPtr d_inv = make_buffer(0, size_t(genes) * 4);
  d_inv->upload(inv_scale.data(), d_inv->bytes());

  // The sparse Gram, whole and with dense panels left out.
  std::vector<double> full(n2);
  std::vector<int> skips = {0};
  for (int p : plist) skips.push_back(p);
  for (int p : skips) {
    setenv("CELLSHARD_GRAM_SKIP_PANELS", std::to_string(p).c_str(), 1);
    SparseGramPhases ph;
    const double best = time_sparse(sh, ph);
    if (p == 0) gram->download(full.data(), gram->bytes());
    std::printf("sparse Gram, pairs of the last %2d panels left out: %.4f s (scales %.4f layout "
                "%.4f tiles %.4f finish %.4f)\n",
                p, best, ph.scales, ph.layout, ph.tiles, ph.finish);
  }
  unsetenv("CELLSHARD_GRAM_SKIP_PANELS");

  // The dense block.
  cublasHandle_t blas;
  ok(cublasCreate(&blas) == CUBLAS_STATUS_SUCCESS, "cublas");
  ok(cublasSetStream(blas, ctx.stream) == CUBLAS_STATUS_SUCCESS, "stream");
  const int64_t sub_rows = 131040;  // < 2^17: int32 digit sums cannot overflow; a multiple of 32
  for (size_t t = 0; t < plist.size(); ++t) {
    const int g0 = g0list[t], d = genes - g0;
    const int64_t ld = sub_rows;
    BufferPtr s = make_buffer(0, size_t(ld) * 3 * d);
    BufferPtr c3 = make_buffer(0, size_t(3 * d) * (3 * d) * 4);
    BufferPtr c6 = make_buffer(0, size_t(6) * d * d * 4);
    BufferPtr acc = make_buffer(0, size_t(d) * d * 8);
    const size_t shared = size_t(3) * d * kTileRows;
    ok(cudaFuncSetAttribute(densify_digits_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            int(shared)) == cudaSuccess, "attr");
    const auto densify = [&](int64_t r0) {
      densify_digits_kernel<<<unsigned((ld + kTileRows - 1) / kTileRows), 256, shared,
                              ctx.stream>>>(r0, std::min(sub_rows, rows - r0), g0, d, ld,
                                            sh.view.indptr, sh.view.indices,
                                            sh.values->as<float>(), d_inv->as<float>(),
                                            s->as<int8_t>());
      ok(cudaGetLastError() == cudaSuccess, "densify");
    };
    double densify_alone = INFINITY;  // every sub-chunk densified, nothing else
    for (int rep = 0; rep <= reps; ++rep) {
      ok(cudaDeviceSynchronize() == cudaSuccess, "sync");
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t r0 = 0; r0 < rows; r0 += sub_rows) densify(r0);
      ok(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "sync");
      if (rep > 0) densify_alone = std::min(densify_alone, seconds_since(t0));
    }
    for (int method = 0; method < 2; ++method) {
      double best = INFINITY;
      std::vector<double> got(size_t(d) * d);
      for (int rep = 0; rep <= reps; ++rep) {
        ok(cudaMemset(acc->data(), 0, acc->bytes()) == cudaSuccess, "memset");
        ok(cudaDeviceSynchronize() == cudaSuccess, "sync");
        const auto t0 = std::chrono::steady_clock::now();
        for (int64_t r0 = 0; r0 < rows; r0 += sub_rows) {
          densify(r0);
          const int32_t one = 1, zero = 0;
          if (method == 0) {
            ok(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, 3 * d, 3 * d, int(ld), &one, s->data(),
                            CUDA_R_8I, int(ld), s->data(), CUDA_R_8I, int(ld), &zero, c3->data(),
                            CUDA_R_32I, 3 * d, CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT) ==
                   CUBLAS_STATUS_SUCCESS, "gemm 3d");
          } else {
            int slot = 0;
            for (int i = 0; i < 3; ++i)
              for (int j = i; j < 3; ++j, ++slot)
                ok(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, d, d, int(ld), &one,
                                s->as<int8_t>() + size_t(i) * d * ld, CUDA_R_8I, int(ld),
                                s->as<int8_t>() + size_t(j) * d * ld, CUDA_R_8I, int(ld), &zero,
                                c6->as<int32_t>() + size_t(slot) * d * d, CUDA_R_32I, d,
                                CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS,
                   "gemm pair");
          }
          combine_kernel<<<264, 256, 0, ctx.stream>>>(g0, d,
                                                      method == 0 ? c3->as<int32_t>() : nullptr,
                                                      method == 1 ? c6->as<int32_t>() : nullptr,
                                                      d_inv->as<float>(), acc->as<double>());
          ok(cudaGetLastError() == cudaSuccess, "combine");
        }
        ok(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "sync");
        if (rep > 0) best = std::min(best, seconds_since(t0));
      }
      acc->download(got.data(), acc->bytes());
      double worst = 0;
      for (int b = 0; b < d; ++b)
        for (int a = b; a < d; ++a) {
          const size_t ga = size_t(g0 + a), gb = size_t(g0 + b);
          const double ref = full[ga + gb * genes];
          const double sc = std::sqrt(std::fabs(full[ga * (genes + 1)] * full[gb * (genes + 1)]));
          worst = std::max(worst, std::fabs(got[size_t(a) + size_t(b) * d] - ref) / sc);
        }
      std::printf("dense block D %4d, %s: %.4f s (densify alone %.4f), largest difference %.2e "
                  "of sqrt(G_aa G_bb)\n",
                  d, method == 0 ? "one 3D x 3D GEMM" : "six D x D GEMMs", best, densify_alone,
                  worst);
    }
  }
  cublasDestroy(blas);
  return 0;
}
