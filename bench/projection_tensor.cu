// PCA's projection (scores = X V) on the tensor cores against the package's
// gathering kernel (issue 8). On a random shard shaped like PCA's input
// (bench/random_shard.cuh: rows x genes at a mean density, "uniform" or
// "skewed" gene popularity) and a random V (genes x k, unit columns):
//   exact   the package's multiply_on_device (the gathering kernel of
//           src/cuda/multiply_kernels.cu): float64 sums of exact products;
//   tensor  rows densified 32 genes at a time in shared memory, fp16 hi + lo
//           halves of x and of V, three mma.sync products (hi hi, hi lo,
//           lo hi), float32 sums in the tensor cores.
// Reports each method's median time of `reps` after a warm-up, and the tensor
// kernel's distance from exact: the largest |difference| over the largest
// |score| of the column, and all.equal's mean relative difference (sum |d| /
// sum |exact|), and whether it gives the same bits twice. (Its first version,
// commit 8f9ff72, also timed the gathering kernel with float32 sums.)
//
// Build (repository root, the package's objects as bench/gram-device-run.sh
// links them):
//   nvcc $NVFLAGS -c bench/projection_tensor.cu -o /tmp/projection_tensor.o
//   g++ -o /tmp/projection_tensor /tmp/projection_tensor.o src/core/*.o src/cpu/*.o src/cuda/*.o $LIBS
//   /tmp/projection_tensor [rows] [genes] [density] [k] [reps] [uniform|skewed]
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../src/cuda/cuda_backend.h"
#include "../src/cuda/device_context.h"
#include "../src/cuda/pipeline_device.h"
#include "event_timer.cuh"
#include "random_shard.cuh"

using namespace cellshard;

namespace {

constexpr unsigned kFull = 0xffffffffu;

// ---- tensor: fp16 hi + lo on mma.sync m16n8k16
// A block owns 256 rows (8 warps x 32 rows: two m16 tiles a warp) and walks
// the genes 32 at a time (a chunk: two k16 steps). Each thread keeps a cursor
// into its own row and writes the row's entries of the next chunk, split into
// fp16 hi and lo, straight into the A fragments' places in shared memory (the
// fragments are the warp's own, so the warp zeroes them as it reads them).
// V's fragments are laid out in global memory in mma order by prepare_v_kernel
// and copied a chunk at a time by cp.async. Two stages: the next chunk is
// written while this one is multiplied. Each row's x is scaled by a power of
// two (its largest |x| to just under 2^14), each column of V likewise, so the
// halves keep 11 significant bits each over a wide range.
constexpr int kTcWarps = 8;
constexpr int kTcRows = kTcWarps * 32;
constexpr int kChunkGenes = 32;
constexpr int kStepsPerChunk = kChunkGenes / 16;
// A stage: [part hi/lo][warp][mtile][kstep][lane] of uint4 (4 registers of 2 halves)
constexpr int kAStageU4 = 2 * kTcWarps * 2 * kStepsPerChunk * 32;

__device__ __forceinline__ uint32_t pack_halves(__half lo, __half hi) {
  return uint32_t(__half_as_ushort(lo)) | (uint32_t(__half_as_ushort(hi)) << 16);
}

__device__ __forceinline__ void split_half(float x, __half& hi, __half& lo) {
  hi = __float2half_rn(x);
  lo = __float2half_rn(x - __half2float(hi));
}

// vfrag[((kstep * nt + j) * 32 + lane)] = {hi b0, hi b1, lo b0, lo b1} of V's
// (16 x 8) fragment (kstep, j), each column scaled by 2^col_shift[n].
__global__ void prepare_v_kernel(int genes, int k, int ksteps, int nt, const float* __restrict__ v,
                                 const int* __restrict__ col_shift, uint4* __restrict__ vfrag) {
  const int64_t total = int64_t(ksteps) * nt * 32;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int lane = int(i % 32), j = int((i / 32) % nt);
    const int s = int(i / (32 * int64_t(nt)));
    const int n = 8 * j + lane / 4, k0 = 16 * s + 2 * (lane % 4);
    __half h[4], l[4];
    const int ks[4] = {k0, k0 + 1, k0 + 8, k0 + 9};
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int g = ks[q];
      const float x = (g < genes && n < k) ? ldexpf(v[int64_t(n) * genes + g], col_shift[n]) : 0.f;
      split_half(x, h[q], l[q]);
    }
    vfrag[i] = make_uint4(pack_halves(h[0], h[1]), pack_halves(h[2], h[3]),
                          pack_halves(l[0], l[1]), pack_halves(l[2], l[3]));
  }
}

__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned s = unsigned(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::); }

template <int NT>
__global__ void __launch_bounds__(kTcRows, 1)
    tensor_kernel(int64_t n, int genes, const int64_t* __restrict__ indptr,
                  const int32_t* __restrict__ indices, const float* __restrict__ values,
                  const uint4* __restrict__ vfrag, const int* __restrict__ col_shift, int k,
                  const double* __restrict__ shift, double* __restrict__ out, int64_t ld) {
  extern __shared__ uint4 smem[];
  // stage s: A at smem + s * kAStageU4, B at smem + 2 * kAStageU4 + s * b_u4
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t row = int64_t(blockIdx.x) * kTcRows + tid;
  const int nchunks = (genes + kChunkGenes - 1) / kChunkGenes;
  constexpr int b_u4 = kStepsPerChunk * NT * 32;
  auto a_stage = [&](int s) { return smem + s * kAStageU4; };
  auto b_stage = [&](int s) { return smem + 2 * kAStageU4 + s * b_u4; };

  // This thread's row: cursor, next index (INT_MAX past the end), scale.
  int64_t cur = 0, end = 0;
  int row_shift = 0;
  if (row < n) {
    cur = indptr[row];
    end = indptr[row + 1];
    float m = 0.f;
    for (int64_t e = cur; e < end; ++e) m = fmaxf(m, fabsf(values[e]));
    int ex = 0;
    if (m > 0.f && m <= 3.0e38f) {
      frexpf(m, &ex);
      row_shift = 14 - ex;
    }
  }
  int next_g = cur < end ? indices[cur] : INT32_MAX;

  // Zero both stages' A (later the warps zero their fragments as they read them).
  for (int i = tid; i < 2 * kAStageU4; i += kTcRows) smem[i] = make_uint4(0, 0, 0, 0);
  __syncthreads();

  // Writes this row's entries of chunk c into stage s.
  const int rr = lane, mt = rr >> 4, m = rr & 15, g8 = m & 7, hi_row = m >> 3;
  auto scatter = [&](int c, int s) {
    __half* a = reinterpret_cast<__half*>(a_stage(s));
    const int g_end = (c + 1) * kChunkGenes;
    while (next_g < g_end) {
      const int kk = next_g - c * kChunkGenes;
      const float x = ldexpf(values[cur], row_shift);
      __half h, l;
      split_half(x, h, l);
      const int ks = kk >> 4, kq = kk & 15, kh = kq >> 3, t = (kq & 7) >> 1, half = kq & 1;
      const int fl = g8 * 4 + t, reg = hi_row + 2 * kh;
      const int base = ((warp * 2 + mt) * kStepsPerChunk + ks) * 32 + fl;  // uint4 index, part hi
      a[(base)*8 + reg * 2 + half] = h;
      a[(base + kTcWarps * 2 * kStepsPerChunk * 32) * 8 + reg * 2 + half] = l;
      ++cur;
      next_g = cur < end ? indices[cur] : INT32_MAX;
    }
  };
  auto copy_b = [&](int c, int s) {
    const uint4* src = vfrag + int64_t(c) * b_u4;
    for (int i = tid; i < b_u4; i += kTcRows) cp_async16(b_stage(s) + i, src + i);
    cp_async_commit();
  };

  float acc[2][NT][4];
#pragma unroll
  for (int a = 0; a < 2; ++a)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[a][j][q] = 0.f;

  copy_b(0, 0);
  scatter(0, 0);
  for (int c = 0; c < nchunks; ++c) {
    const int s = c & 1;
    cp_async_wait_all();
    __syncthreads();  // chunk c's A and B are in stage s; stage s^1 is free
    if (c + 1 < nchunks) {
      copy_b(c + 1, s ^ 1);
      scatter(c + 1, s ^ 1);
    }
    const uint4* a = a_stage(s);
    uint4* az = a_stage(s);
    const uint4* b = b_stage(s);
#pragma unroll
    for (int ks = 0; ks < kStepsPerChunk; ++ks) {
      uint32_t ah[2][4], al[2][4];
#pragma unroll
      for (int t = 0; t < 2; ++t) {
        const int idx = ((warp * 2 + t) * kStepsPerChunk + ks) * 32 + lane;
        const uint4 h = a[idx], l = a[idx + kTcWarps * 2 * kStepsPerChunk * 32];
        ah[t][0] = h.x; ah[t][1] = h.y; ah[t][2] = h.z; ah[t][3] = h.w;
        al[t][0] = l.x; al[t][1] = l.y; al[t][2] = l.z; al[t][3] = l.w;
        az[idx] = make_uint4(0, 0, 0, 0);
        az[idx + kTcWarps * 2 * kStepsPerChunk * 32] = make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        const uint4 f = b[(ks * NT + j) * 32 + lane];
#pragma unroll
        for (int t = 0; t < 2; ++t) {
          mma16816(acc[t][j], ah[t], f.x, f.y);
          mma16816(acc[t][j], ah[t], f.z, f.w);
          mma16816(acc[t][j], al[t], f.x, f.y);
        }
      }
    }
  }

  // Scores: acc / (2^row_shift 2^col_shift) + shift. Lane (g, t) of tile (t2, j)
  // holds rows g and g + 8, columns 2t and 2t + 1.
  const int g = lane >> 2, tq = lane & 3;
#pragma unroll
  for (int t = 0; t < 2; ++t) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int r_local = warp * 32 + t * 16 + g + 8 * half;
      const int64_t r = int64_t(blockIdx.x) * kTcRows + r_local;
      const int rs = __shfl_sync(kFull, row_shift, t * 16 + g + 8 * half);
      if (r >= n) continue;
#pragma unroll
      for (int j = 0; j < NT; ++j)
#pragma unroll
        for (int q = 0; q < 2; ++q) {
          const int col = 8 * j + 2 * tq + q;
          if (col < k)
            out[r + int64_t(col) * ld] =
                ldexp(double(acc[t][j][2 * half + q]), -(rs + col_shift[col])) + shift[col];
        }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1430156;
  const int genes = argc > 2 ? std::atoi(argv[2]) : 5000;
  const double density = argc > 3 ? std::atof(argv[3]) : 0.035;
  const int k = argc > 4 ? std::atoi(argv[4]) : 100;
  const int reps = argc > 5 ? std::atoi(argv[5]) : 5;
  const std::string kind = argc > 6 ? argv[6] : "uniform";
  const int nt = (k + 7) / 8;
  if (nt != 4 && nt != 8 && nt != 13 && nt != 16) {
    std::fprintf(stderr, "k must give 4, 8, 13 or 16 n-tiles of 8 columns\n");
    return 1;
  }
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::printf("%s\n%lld rows x %d genes at %.3f (%s), k = %d\n", cuda_device_description(0).c_str(),
              (long long)rows, genes, density, kind.c_str(), k);
  const DeviceContext& ctx = use_device(0);
  gram_bench::Shard shard = gram_bench::make_shard(rows, genes, density, kind == "skewed", 7);
  const float* values = shard.values->as<float>();
  std::printf("nnz %lld (%.2f%%)\n", (long long)shard.view.nnz,
              100.0 * double(shard.view.nnz) / (double(rows) * genes));

  // V (genes x k, column-major, unit columns) and the shift.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<float> v(size_t(genes) * k);
  std::vector<int> col_shift(k);
  for (int j = 0; j < k; ++j) {
    std::vector<double> col(genes);
    double ss = 0, largest = 0;
    for (double& x : col) { x = normal(rng); ss += x * x; }
    for (int g = 0; g < genes; ++g) {
      v[size_t(j) * genes + g] = float(col[g] / std::sqrt(ss));
      largest = std::max(largest, std::fabs(double(v[size_t(j) * genes + g])));
    }
    int e = 0;
    std::frexp(largest, &e);  // the column's largest |v| to just under 2^14
    col_shift[j] = 14 - e;
  }
  std::vector<double> shift(k);
  for (double& x : shift) x = -0.5 * normal(rng);
  BufferPtr d_v = make_buffer(0, v.size() * 4), d_cs = make_buffer(0, size_t(k) * 4),
            d_shift = make_buffer(0, size_t(k) * 8);
  d_v->upload(v.data(), d_v->bytes());
  d_cs->upload(col_shift.data(), d_cs->bytes());
  d_shift->upload(shift.data(), d_shift->bytes());
  const int nchunks = (genes + kChunkGenes - 1) / kChunkGenes, ksteps = nchunks * kStepsPerChunk;
  BufferPtr vfrag = make_buffer(0, size_t(ksteps) * nt * 32 * 16);
  BufferPtr exact = make_buffer(0, size_t(rows) * k * 8), out = make_buffer(0, size_t(rows) * k * 8);

  auto kernel = nt == 4 ? &tensor_kernel<4> : nt == 8 ? &tensor_kernel<8> : nt == 13 ? &tensor_kernel<13>
                                                                                    : &tensor_kernel<16>;
  const size_t smem = (2 * size_t(kAStageU4) + 2 * size_t(kStepsPerChunk) * nt * 32) * 16;
  ok(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)) == cudaSuccess,
     "shared memory attribute");
  auto run_exact = [&] {
    multiply_on_device(shard.view, values, v.data(), k, shift.data(), exact->as<double>(), rows);
  };
  auto run_tensor = [&] {
    prepare_v_kernel<<<256, 256, 0, ctx.stream>>>(genes, k, ksteps, nt, d_v->as<float>(),
                                                  d_cs->as<int>(), vfrag->as<uint4>());
    kernel<<<unsigned((rows + kTcRows - 1) / kTcRows), kTcRows, smem, ctx.stream>>>(
        rows, genes, shard.view.indptr, shard.view.indices, values, vfrag->as<uint4>(),
        d_cs->as<int>(), k, d_shift->as<double>(), out->as<double>(), rows);
    ok(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "tensor kernel");
  };
  setenv("CELLSHARD_MULTIPLY_METHOD", "sparse", 1);
  std::printf("exact   %.5f s (median of %d)\n", median_ms(run_exact, reps) / 1e3, reps);
  std::printf("tensor  %.5f s", median_ms(run_tensor, reps) / 1e3);

  std::vector<double> want(size_t(rows) * k), got(want.size()), again(want.size());
  exact->download(want.data(), exact->bytes());
  out->download(got.data(), out->bytes());
  double worst = 0, sum_d = 0, sum_e = 0;
  for (int j = 0; j < k; ++j) {
    double largest = 0, diff = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const double e = want[size_t(j) * rows + r], d = std::fabs(got[size_t(j) * rows + r] - e);
      largest = std::max(largest, std::fabs(e));
      diff = d == d ? std::max(diff, d) : INFINITY;
      sum_d += d;
      sum_e += std::fabs(e);
    }
    worst = std::max(worst, diff / largest);
  }
  std::printf(";  max |d| / column max %.2e, mean relative %.2e\n", worst, sum_d / sum_e);
  run_tensor();
  out->download(again.data(), out->bytes());
  std::printf("tensor same bits twice: %s\n",
              std::memcmp(got.data(), again.data(), got.size() * 8) == 0 ? "yes" : "NO");
  return 0;
}
