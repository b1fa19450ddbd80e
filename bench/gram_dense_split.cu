// Would a dense block of the most frequent genes on the int8 tensor cores,
// beside the sparse tiles for every other pair, make the Gram faster (issue 8)?
// A random skewed shard with its genes sorted by popularity (most frequent
// first, so the D most frequent are the first D / 128 panels):
//   - the fraction of the Gram's products among the first D genes;
//   - the sparse Gram whole, and with the pairs of the first P panels left out
//     (CELLSHARD_GRAM_SKIP_PANELS);
//   - the first D genes' block exactly in integers: each value rounded to
//     q = round(x / s_g 2^22) (s_g the power of two at or above the gene's
//     largest |x|), cut into three signed 8-bit digits (q = d0 + 2^8 d1 +
//     2^16 d2), densified a sub-chunk of < 2^17 rows at a time (column-major,
//     the rows contiguous), and S^T S with int32 sums by cuBLAS, either as one
//     3D x 3D GEMM or as the six digit pairs i <= j; the digit products
//     combined into exact int64 sums per sub-chunk, added in float64.
//   - how far that block is from the sparse Gram's (largest difference
//     relative to sqrt(G_aa G_bb)).
// Build as bench/gram_kernel.cu (bench/gram-device-run.sh builds it when
// DENSE_SPLIT=1):
//   /tmp/gram_dense_split [rows] [genes] [density] [reps] [D list]
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
#include "random_shard.cuh"

using namespace cellshard;

namespace {

constexpr int kQuantBits = 22;
constexpr int kTileRows = 32;  // rows a densify block

void ok(bool c, const char* what) {
  if (!c) {
    std::fprintf(stderr, "failed: %s\n", what);
    std::exit(1);
  }
}

// Rows [r0, r0 + rows) of the shard, genes below d (a prefix of each row:
// the genes are sorted by popularity), as three int8 digit columns a gene:
// s[(i * d + g) * ld + r]. A block builds 32 rows in shared memory, then
// writes each column's 32 bytes at once.
__global__ void densify_digits_kernel(int64_t r0, int64_t rows, int d, int64_t ld,
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
        const int g = k < hi ? indices[k] : d;
        if (g < d) {
          const int q = __float2int_rn(values[k] * inv_scale[g] * float(1 << kQuantBits));
          const int d0 = int(int8_t(q & 255));
          const int q1 = (q - d0) >> 8;
          const int d1 = int(int8_t(q1 & 255));
          const int d2 = (q1 - d1) >> 8;
          tile[(0 * d + g) * kTileRows + rl] = int8_t(d0);
          tile[(1 * d + g) * kTileRows + rl] = int8_t(d1);
          tile[(2 * d + g) * kTileRows + rl] = int8_t(d2);
        }
        if (__all_sync(0xffffffffu, g >= d)) break;
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
__global__ void combine_kernel(int d, const int32_t* __restrict__ c3,
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
    acc[idx] += ldexp(double(v), -2 * kQuantBits) / (double(inv_scale[a]) * double(inv_scale[b]));
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1430156;
  const int genes = argc > 2 ? std::atoi(argv[2]) : 5000;
  const double density = argc > 3 ? std::atof(argv[3]) : 0.035;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 3;
  std::vector<int> dlist;
  {
    std::stringstream ss(argc > 5 ? argv[5] : "512,768,1024,1280");
    for (std::string t; std::getline(ss, t, ',');) dlist.push_back(std::atoi(t.c_str()));
  }
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::printf("%s\n%lld rows x %d genes, density %.4f, skewed, genes sorted by popularity\n",
              cuda_device_description(0).c_str(), (long long)rows, genes, density);
  const DeviceContext& ctx = use_device(0);
  gram_bench::Shard sh = gram_bench::make_shard(rows, genes, density, true, 7, true);
  const int64_t nnz = sh.view.nnz;
  std::vector<int32_t> idx(static_cast<size_t>(nnz));
  std::vector<float> val(static_cast<size_t>(nnz));
  sh.indices->download(idx.data(), idx.size() * 4);
  sh.values->download(val.data(), val.size() * 4);
  // products among the first D genes
  double total = 0;
  std::vector<double> within(dlist.size(), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t lo = sh.host_indptr[size_t(r)], hi = sh.host_indptr[size_t(r) + 1];
    const double len = double(hi - lo);
    total += len * (len + 1) / 2;
    for (size_t t = 0; t < dlist.size(); ++t) {
      int64_t c = 0;
      while (lo + c < hi && idx[size_t(lo + c)] < dlist[t]) ++c;
      within[t] += double(c) * double(c + 1) / 2;
    }
  }
  std::printf("nnz %lld, products %.4e\n", (long long)nnz, total);
  for (size_t t = 0; t < dlist.size(); ++t)
    std::printf("  first %4d genes: %.3f of the products\n", dlist[t], within[t] / total);
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
  const size_t n2 = size_t(genes) * size_t(genes);
  BufferPtr gram = make_buffer(0, n2 * 8);
  std::vector<double> full(n2);
  setenv("CELLSHARD_GRAM_PROFILE", "1", 1);
  std::vector<int> skips = {0};
  for (int dd : dlist) skips.push_back(dd / 128);
  for (int p : skips) {
    setenv("CELLSHARD_GRAM_SKIP_PANELS", std::to_string(p).c_str(), 1);
    double best = INFINITY;
    SparseGramPhases ph;
    for (int rep = 0; rep <= reps; ++rep) {
      ok(cudaMemset(gram->data(), 0, gram->bytes()) == cudaSuccess, "memset");
      ok(cudaDeviceSynchronize() == cudaSuccess, "sync");
      const auto t0 = std::chrono::steady_clock::now();
      ok(sparse_gram_lower(ctx, sh.view, sh.values->as<float>(), sh.host_indptr, gram->as<double>()),
         "sparse gram");
      const double t = seconds_since(t0);
      if (rep > 0 && t < best) {
        best = t;
        ph = sparse_gram_last_phases();
      }
    }
    if (p == 0) gram->download(full.data(), gram->bytes());
    std::printf("sparse Gram, pairs of the first %2d panels left out: %.4f s (scales %.4f layout "
                "%.4f tiles %.4f finish %.4f)\n",
                p, best, ph.scales, ph.layout, ph.tiles, ph.finish);
  }
  unsetenv("CELLSHARD_GRAM_SKIP_PANELS");

  // The dense block.
  cublasHandle_t blas;
  ok(cublasCreate(&blas) == CUBLAS_STATUS_SUCCESS, "cublas");
  ok(cublasSetStream(blas, ctx.stream) == CUBLAS_STATUS_SUCCESS, "stream");
  const int64_t sub_rows = 131040;  // < 2^17: int32 digit sums cannot overflow; a multiple of 32
  for (int d : dlist) {
    const int64_t ld = sub_rows;
    BufferPtr s = make_buffer(0, size_t(ld) * 3 * d);
    BufferPtr c3 = make_buffer(0, size_t(3 * d) * (3 * d) * 4);
    BufferPtr c6 = make_buffer(0, size_t(6) * d * d * 4);
    BufferPtr acc = make_buffer(0, size_t(d) * d * 8);
    const size_t shared = size_t(3) * d * kTileRows;
    ok(cudaFuncSetAttribute(densify_digits_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            int(shared)) == cudaSuccess, "attr");
    for (int method = 0; method < 2; ++method) {
      double best = INFINITY, best_densify = 0;
      std::vector<double> got(size_t(d) * d);
      for (int rep = 0; rep <= reps; ++rep) {
        ok(cudaMemset(acc->data(), 0, acc->bytes()) == cudaSuccess, "memset");
        ok(cudaDeviceSynchronize() == cudaSuccess, "sync");
        double densify = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (int64_t r0 = 0; r0 < rows; r0 += sub_rows) {
          const int64_t n = std::min(sub_rows, rows - r0);
          const auto td = std::chrono::steady_clock::now();
          densify_digits_kernel<<<unsigned((ld + kTileRows - 1) / kTileRows), 256, shared,
                                  ctx.stream>>>(r0, n, d, ld, sh.view.indptr, sh.view.indices,
                                                sh.values->as<float>(), d_inv->as<float>(),
                                                s->as<int8_t>());
          ok(cudaGetLastError() == cudaSuccess, "densify");
          if (rep == 1) {
            ok(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "sync");
            densify += seconds_since(td);
          }
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
          combine_kernel<<<264, 256, 0, ctx.stream>>>(d, method == 0 ? c3->as<int32_t>() : nullptr,
                                                      method == 1 ? c6->as<int32_t>() : nullptr,
                                                      d_inv->as<float>(), acc->as<double>());
          ok(cudaGetLastError() == cudaSuccess, "combine");
        }
        ok(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "sync");
        const double t = seconds_since(t0);
        if (rep == 1) best_densify = densify;
        if (rep > 0) best = std::min(best, t);
      }
      acc->download(got.data(), acc->bytes());
      double worst = 0;
      for (int b = 0; b < d; ++b)
        for (int a = b; a < d; ++a) {
          const double ref = full[size_t(a) + size_t(b) * genes];
          const double sc = std::sqrt(std::fabs(full[size_t(a) * (genes + 1)] *
                                                full[size_t(b) * (genes + 1)]));
          worst = std::max(worst, std::fabs(got[size_t(a) + size_t(b) * d] - ref) / sc);
        }
      std::printf("dense block D %4d, %s: %.4f s (densify alone, synchronised, %.4f), largest "
                  "difference %.2e of sqrt(G_aa G_bb)\n",
                  d, method == 0 ? "one 3D x 3D GEMM" : "six D x D GEMMs", best, best_densify,
                  worst);
    }
  }
  cublasDestroy(blas);
  return 0;
}
