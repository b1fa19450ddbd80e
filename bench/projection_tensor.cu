// PCA's projection (scores = X V) on the tensor cores against the package's
// gathering kernel (issue 8). Standalone: builds a random CSR shard on the GPU
// shaped like PCA's input (rows x genes at a mean density, "uniform" or
// "skewed" gene popularity), a random V (genes x k, unit columns), and times:
//   exact   the package's kernel (src/cuda/multiply_kernels.cu, 4 values ahead):
//           float64 sums of exact products, in index order;
//   gather32 the same walk with float32 sums (no float -> double conversions);
//   tensor  rows densified 32 genes at a time in shared memory, fp16 hi + lo
//           halves of x and of V, three mma.sync products (hi hi, hi lo,
//           lo hi), float32 sums in the tensor cores.
// Reports each method's best and median of `reps` after a warm-up, and its
// distance from exact: the largest |difference| over the largest |score| of
// the column, and all.equal's mean relative difference (sum |d| / sum |exact|).
//   nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -o /tmp/pt bench/projection_tensor.cu
//   /tmp/pt [rows] [genes] [density] [k] [reps] [uniform|skewed]
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

#define CK(x)                                                                         \
  do {                                                                                \
    cudaError_t e_ = (x);                                                             \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

namespace {

constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ unsigned long long mix(unsigned long long z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
__device__ __forceinline__ float unit(unsigned long long key) {
  return float(mix(key) >> 40) * (1.0f / 16777216.0f);
}

// One warp a row; pass 0 counts, pass 1 writes sorted indices and values.
__global__ void fill_kernel(int pass, int64_t rows, int genes, const float* present,
                            const float* row_factor, int64_t* len, const int64_t* indptr,
                            int32_t* indices, float* values) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; r < rows;
       r += (int64_t(gridDim.x) * blockDim.x) >> 5) {
    int64_t at = pass ? indptr[r] : 0;
    for (int g0 = 0; g0 < genes; g0 += 32) {
      const int g = g0 + lane;
      const unsigned long long key = (unsigned long long)r * 0x100000ull + g;
      const bool in = g < genes && unit(key) < present[g] * row_factor[r];
      const unsigned ballot = __ballot_sync(kFull, in);
      if (pass && in) {
        const int64_t k = at + __popc(ballot & ((1u << lane) - 1u));
        indices[k] = g;
        values[k] = fminf(10.0f, 0.3f + 3.0f * unit(key ^ 0x5555555555ull));
      }
      at += __popc(ballot);
    }
    if (!pass && lane == 0) len[r] = at;
  }
}

// ---- exact: the package's gathering kernel (multiply_kernels.cu), one pass of <= 128 columns
constexpr int kColsPerLane = 4;

template <int U>
__device__ __forceinline__ void add_values(int t, int32_t g, double v, const float* __restrict__ vt,
                                           int stride, int kc, double (&acc)[kColsPerLane]) {
  const int lane = threadIdx.x & 31;
  double x[U];
  float w[U][kColsPerLane];
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int32_t gt = __shfl_sync(kFull, g, t + u);
    x[u] = __shfl_sync(kFull, v, t + u);
    const float* vrow = vt + int64_t(gt) * stride;
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) {
      const int j = lane + 32 * c;
      w[u][c] = j < kc ? vrow[j] : 0.0f;
    }
  }
#pragma unroll
  for (int u = 0; u < U; ++u)
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c)
      if (lane + 32 * c < kc) acc[c] = fma(x[u], double(w[u][c]), acc[c]);
}

__global__ void exact_kernel(int64_t n, const int64_t* __restrict__ indptr,
                             const int32_t* __restrict__ indices, const float* __restrict__ values,
                             const float* __restrict__ vt, int stride, int kc,
                             const double* __restrict__ shift, double* __restrict__ out,
                             int64_t ld) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t(gridDim.x) * blockDim.x) >> 5;
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; i < n; i += warps) {
    const int64_t begin = indptr[i], end = indptr[i + 1];
    double acc[kColsPerLane] = {0.0, 0.0, 0.0, 0.0};
    for (int64_t base = begin; base < end; base += 32) {
      int32_t g = 0;
      double v = 0.0;
      if (base + lane < end) {
        g = indices[base + lane];
        v = double(values[base + lane]);
      }
      const int count = int(min(int64_t(32), end - base));
      int t = 0;
      for (; t + 4 <= count; t += 4) add_values<4>(t, g, v, vt, stride, kc, acc);
      for (; t < count; ++t) add_values<1>(t, g, v, vt, stride, kc, acc);
    }
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) {
      const int j = lane + 32 * c;
      if (j < kc) out[i + int64_t(j) * ld] = acc[c] + shift[j];
    }
  }
}

// ---- gather32: the same walk, float32 sums
template <int U>
__device__ __forceinline__ void add_values32(int t, int32_t g, float v, const float* __restrict__ vt,
                                             int stride, int kc, float (&acc)[kColsPerLane]) {
  const int lane = threadIdx.x & 31;
  float x[U];
  float w[U][kColsPerLane];
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int32_t gt = __shfl_sync(kFull, g, t + u);
    x[u] = __shfl_sync(kFull, v, t + u);
    const float* vrow = vt + int64_t(gt) * stride;
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) {
      const int j = lane + 32 * c;
      w[u][c] = j < kc ? vrow[j] : 0.0f;
    }
  }
#pragma unroll
  for (int u = 0; u < U; ++u)
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) acc[c] = fmaf(x[u], w[u][c], acc[c]);
}

__global__ void gather32_kernel(int64_t n, const int64_t* __restrict__ indptr,
                                const int32_t* __restrict__ indices,
                                const float* __restrict__ values, const float* __restrict__ vt,
                                int stride, int kc, const double* __restrict__ shift,
                                double* __restrict__ out, int64_t ld) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t(gridDim.x) * blockDim.x) >> 5;
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; i < n; i += warps) {
    const int64_t begin = indptr[i], end = indptr[i + 1];
    float acc[kColsPerLane] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t base = begin; base < end; base += 32) {
      int32_t g = 0;
      float v = 0.f;
      if (base + lane < end) {
        g = indices[base + lane];
        v = values[base + lane];
      }
      const int count = int(min(int64_t(32), end - base));
      int t = 0;
      for (; t + 4 <= count; t += 4) add_values32<4>(t, g, v, vt, stride, kc, acc);
      for (; t < count; ++t) add_values32<1>(t, g, v, vt, stride, kc, acc);
    }
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) {
      const int j = lane + 32 * c;
      if (j < kc) out[i + int64_t(j) * ld] = double(acc[c]) + shift[j];
    }
  }
}

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

struct Timer {
  cudaEvent_t a, b;
  Timer() { cudaEventCreate(&a); cudaEventCreate(&b); }
  void start() { cudaEventRecord(a); }
  float stop() {
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    return ms / 1000.f;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1430156;
  const int genes = argc > 2 ? std::atoi(argv[2]) : 5000;
  const double density = argc > 3 ? std::atof(argv[3]) : 0.035;
  const int k = argc > 4 ? std::atoi(argv[4]) : 100;
  const int reps = argc > 5 ? std::atoi(argv[5]) : 5;
  const std::string kind = argc > 6 ? argv[6] : "uniform";
  if (k < 1 || k > 128) { std::fprintf(stderr, "k in 1..128\n"); return 1; }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device %s, %d SMs; %lld rows x %d genes at %.3f (%s), k = %d\n", prop.name,
              prop.multiProcessorCount, (long long)rows, genes, density, kind.c_str(), k);

  // Shard.
  std::mt19937_64 rng(7);
  std::vector<float> present(genes), row_factor(rows, 1.0f);
  if (kind == "skewed") {
    std::lognormal_distribution<double> gd(0.0, 1.5), rd(0.0, 0.3);
    double sum = 0;
    for (int g = 0; g < genes; ++g) { present[g] = float(gd(rng)); sum += present[g]; }
    for (int g = 0; g < genes; ++g) present[g] = std::min(0.9f, float(present[g] * density * genes / sum));
    for (auto& f : row_factor) f = float(rd(rng));
  } else {
    std::fill(present.begin(), present.end(), float(density));
  }
  float *d_present, *d_rf;
  int64_t *d_len, *d_indptr;
  CK(cudaMalloc(&d_present, genes * 4));
  CK(cudaMalloc(&d_rf, rows * 4));
  CK(cudaMalloc(&d_len, rows * 8));
  CK(cudaMalloc(&d_indptr, (rows + 1) * 8));
  CK(cudaMemcpy(d_present, present.data(), genes * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d_rf, row_factor.data(), rows * 4, cudaMemcpyHostToDevice));
  fill_kernel<<<4096, 256>>>(0, rows, genes, d_present, d_rf, d_len, nullptr, nullptr, nullptr);
  CK(cudaGetLastError());
  std::vector<int64_t> len(rows), indptr(rows + 1, 0);
  CK(cudaMemcpy(len.data(), d_len, rows * 8, cudaMemcpyDeviceToHost));
  for (int64_t r = 0; r < rows; ++r) indptr[r + 1] = indptr[r] + len[r];
  const int64_t nnz = indptr[rows];
  CK(cudaMemcpy(d_indptr, indptr.data(), (rows + 1) * 8, cudaMemcpyHostToDevice));
  int32_t* d_idx;
  float* d_val;
  CK(cudaMalloc(&d_idx, nnz * 4));
  CK(cudaMalloc(&d_val, nnz * 4));
  fill_kernel<<<4096, 256>>>(1, rows, genes, d_present, d_rf, d_len, d_indptr, d_idx, d_val);
  CK(cudaDeviceSynchronize());
  std::printf("nnz %lld (%.2f%%), %.1f a row\n", (long long)nnz, 100.0 * nnz / (double(rows) * genes),
              double(nnz) / rows);

  // V (genes x k, column-major, unit columns), shift.
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<float> v(size_t(genes) * k);
  for (int j = 0; j < k; ++j) {
    double ss = 0;
    for (int g = 0; g < genes; ++g) { const double x = nd(rng); v[size_t(j) * genes + g] = float(x); ss += x * x; }
    for (int g = 0; g < genes; ++g) v[size_t(j) * genes + g] = float(v[size_t(j) * genes + g] / std::sqrt(ss));
  }
  std::vector<double> shift(k);
  for (int j = 0; j < k; ++j) shift[j] = -0.5 * nd(rng);
  const int stride = (k + 7) / 8 * 8;
  std::vector<float> vt(size_t(genes) * stride, 0.f);
  for (int j = 0; j < k; ++j)
    for (int g = 0; g < genes; ++g) vt[size_t(g) * stride + j] = v[size_t(j) * genes + g];
  float *d_vt, *d_v;
  double* d_shift;
  CK(cudaMalloc(&d_vt, vt.size() * 4));
  CK(cudaMalloc(&d_v, v.size() * 4));
  CK(cudaMalloc(&d_shift, k * 8));
  CK(cudaMemcpy(d_vt, vt.data(), vt.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d_v, v.data(), v.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d_shift, shift.data(), k * 8, cudaMemcpyHostToDevice));
  // Column scales: largest |v| of the column to just under 2^14.
  std::vector<int> col_shift(k);
  for (int j = 0; j < k; ++j) {
    float m = 0;
    for (int g = 0; g < genes; ++g) m = std::max(m, std::fabs(v[size_t(j) * genes + g]));
    int ex = 0;
    if (m > 0) std::frexp(m, &ex);
    col_shift[j] = m > 0 ? 14 - ex : 0;
  }
  int* d_cs;
  CK(cudaMalloc(&d_cs, k * 4));
  CK(cudaMemcpy(d_cs, col_shift.data(), k * 4, cudaMemcpyHostToDevice));
  const int nt = (k + 7) / 8;
  const int nchunks = (genes + kChunkGenes - 1) / kChunkGenes;
  const int ksteps = nchunks * kStepsPerChunk;
  uint4* d_vfrag;
  CK(cudaMalloc(&d_vfrag, size_t(ksteps) * nt * 32 * 16));

  double *d_exact, *d_out;
  CK(cudaMalloc(&d_exact, size_t(rows) * k * 8));
  CK(cudaMalloc(&d_out, size_t(rows) * k * 8));
  const int gather_blocks = prop.multiProcessorCount * 8;

  auto run_exact = [&](double* out) {
    exact_kernel<<<gather_blocks, 256>>>(rows, d_indptr, d_idx, d_val, d_vt, stride, k, d_shift, out, rows);
  };
  auto run_g32 = [&](double* out) {
    gather32_kernel<<<gather_blocks, 256>>>(rows, d_indptr, d_idx, d_val, d_vt, stride, k, d_shift, out, rows);
  };
  const size_t tc_smem = (2 * size_t(kAStageU4) + 2 * size_t(kStepsPerChunk) * nt * 32) * 16;
  auto tc_kernel_for = [&](int t) -> decltype(&tensor_kernel<13>) {
    switch (t) {
      case 4: return &tensor_kernel<4>;
      case 8: return &tensor_kernel<8>;
      case 13: return &tensor_kernel<13>;
      case 16: return &tensor_kernel<16>;
      default: return nullptr;
    }
  };
  auto tk = tc_kernel_for(nt);
  if (!tk) { std::fprintf(stderr, "k must give 4, 8, 13 or 16 n-tiles here\n"); return 1; }
  CK(cudaFuncSetAttribute(tk, cudaFuncAttributeMaxDynamicSharedMemorySize, int(tc_smem)));
  auto run_tc = [&](double* out) {
    prepare_v_kernel<<<256, 256>>>(genes, k, ksteps, nt, d_v, d_cs, d_vfrag);
    const int blocks = int((rows + kTcRows - 1) / kTcRows);
    tk<<<blocks, kTcRows, tc_smem>>>(rows, genes, d_indptr, d_idx, d_val, d_vfrag, d_cs, k, d_shift, out, rows);
  };

  std::vector<double> exact(size_t(rows) * k), got(size_t(rows) * k);
  Timer timer;
  auto measure = [&](const char* name, auto fn, double* out) {
    fn(out);
    CK(cudaDeviceSynchronize());
    std::vector<float> t;
    for (int r = 0; r < reps; ++r) { timer.start(); fn(out); t.push_back(timer.stop()); }
    CK(cudaGetLastError());
    std::sort(t.begin(), t.end());
    std::printf("%-9s best %.5f s, median %.5f s", name, t[0], t[t.size() / 2]);
  };
  measure("exact", run_exact, d_exact);
  std::printf("\n");
  CK(cudaMemcpy(exact.data(), d_exact, exact.size() * 8, cudaMemcpyDeviceToHost));
  auto compare = [&](double* out) {
    CK(cudaMemcpy(got.data(), out, got.size() * 8, cudaMemcpyDeviceToHost));
    double worst = 0, sd = 0, se = 0;
    for (int j = 0; j < k; ++j) {
      double mx = 0, md = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double e = exact[size_t(j) * rows + r], d = std::fabs(got[size_t(j) * rows + r] - e);
        if (!(d == d)) md = INFINITY;
        mx = std::max(mx, std::fabs(e));
        md = std::max(md, d);
        sd += d;
        se += std::fabs(e);
      }
      worst = std::max(worst, md / mx);
    }
    std::printf(";  max |d| / column max %.2e, mean relative %.2e\n", worst, sd / se);
  };
  measure("gather32", run_g32, d_out);
  compare(d_out);
  measure("tensor", run_tc, d_out);
  compare(d_out);
  // The same bits twice?
  std::vector<double> first(got);
  run_tc(d_out);
  CK(cudaDeviceSynchronize());
  CK(cudaMemcpy(got.data(), d_out, got.size() * 8, cudaMemcpyDeviceToHost));
  std::printf("tensor same bits twice: %s\n",
              std::memcmp(first.data(), got.data(), got.size() * 8) == 0 ? "yes" : "NO");
  return 0;
}
