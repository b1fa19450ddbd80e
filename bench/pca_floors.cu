// What PCA's Gram could cost by other means (issue 8's PCA <= 0.1 s target),
// at one GPU's share: rows x 5,000 genes at the seed matrix's 3.51% density.
//
// 1. A dense Gram on tensor cores. Rows are densified chunk by chunk and
//    multiplied by cuBLAS: float64 Dsyrk (what the package does above ~15%
//    density; the reference for the errors), one float16 pass, float16
//    compensated (x = hi + lo, G ~ hi hi^T + hi lo^T + lo hi^T: three passes,
//    about float32's precision), and one TF32 pass. The low-precision passes
//    sum a chunk in float32 and the chunks in float64. Values are uniform in
//    (0, 1) with 24 significant bits (float32's), at random places; the time
//    does not depend on them. Each method's time includes densifying its
//    chunks; "densify only" is that part alone. The low-precision passes
//    compute the whole Gram (a GEMM); the lower triangle alone could take at
//    best half of it.
// 2. The sparse tile kernel's shared-memory floor. src/cuda/sparse_gram_tiles.cu
//    makes each of its products one shared load and two 32-bit shared atomics
//    (a 64-bit fixed-point sum with its carry) on a 128 x 128 tile. Here the
//    same number of products does only those shared operations, at random
//    tile entries, one block of 1,024 threads an SM as the kernel runs: the
//    time its accumulation alone needs on this GPU, whatever the bookkeeping.
//    Also one 32-bit atomic a product (a float32-grade accumulator).
//
// Build and run (CUDA 13, sm_90):
//   nvcc -O2 -std=c++17 -gencode=arch=compute_90,code=sm_90 -o /tmp/pca_floors \
//     bench/pca_floors.cu -lcublas
//   /tmp/pca_floors [rows] [products] [reps]    (1430154 2.2e10 3)
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#define CHECK_CUDA(x)                                                                       \
  do {                                                                                      \
    cudaError_t e_ = (x);                                                                   \
    if (e_ != cudaSuccess) {                                                                \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_));       \
      std::exit(1);                                                                         \
    }                                                                                       \
  } while (0)
#define CHECK_CUBLAS(x)                                                                     \
  do {                                                                                      \
    cublasStatus_t s_ = (x);                                                                \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                      \
      std::fprintf(stderr, "%s:%d cuBLAS status %d\n", __FILE__, __LINE__, int(s_));        \
      std::exit(1);                                                                         \
    }                                                                                       \
  } while (0)

namespace {

constexpr int kGenes = 5000;
constexpr int64_t kChunkRows = 131072;
constexpr double kDensity = 0.0351;
constexpr int kPanel = 128;  // the tile kernel's panel: a 128 x 128 tile

__host__ __device__ inline unsigned long long mix(unsigned long long z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// x(row, gene): uniform in (0, 1) with 24 significant bits at kDensity of places, else 0.
__device__ inline float value_at(int64_t row, int gene) {
  const unsigned long long h = mix((unsigned long long)row * kGenes + gene);
  const unsigned threshold = unsigned(kDensity * 4294967296.0);
  if (unsigned(h) >= threshold) return 0.0f;
  return float((h >> 40) | 1ull) * (1.0f / 16777216.0f);
}

// Rows [r0, r0 + rows) densified, row-major rows x kGenes (column-major kGenes x rows).
template <class Store>
__global__ void densify_kernel(int64_t r0, int64_t rows, Store store) {
  const int64_t total = rows * kGenes;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x)
    store(i, value_at(r0 + i / kGenes, int(i % kGenes)));
}

struct ToDouble {
  double* out;
  __device__ void operator()(int64_t i, float x) const { out[i] = double(x); }
};
struct ToFloat {
  float* out;
  __device__ void operator()(int64_t i, float x) const { out[i] = x; }
};
struct ToHalf {
  __half* hi;
  __device__ void operator()(int64_t i, float x) const { hi[i] = __float2half_rn(x); }
};
struct ToHalfPair {
  __half* hi;
  __half* lo;
  __device__ void operator()(int64_t i, float x) const {
    const __half h = __float2half_rn(x);
    hi[i] = h;
    lo[i] = __float2half_rn(x - __half2float(h));
  }
};

__global__ void add_float_kernel(int64_t n, const float* part, double* sum) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    sum[i] += double(part[i]);
}

// The tile kernel's shared operations a product, `per_thread` products a
// thread, at pseudo-random entries of a 128 x 128 tile (two 32-bit words each).
// mode 0: one load and two atomics with the carry (the tile kernel's);
// mode 1: one 32-bit atomic; mode 2: one load; mode 3: as mode 0 with each
// lane in its own bank (no bank conflicts: what no ordering of the products
// could beat); mode 4: one load and one 64-bit integer atomic (the same
// fixed-point sum in one word); mode 5: one load and one float64 atomic.
// Random entries put ~3.5 lanes of a warp in the busiest bank; the tile
// kernel measured 2.6.
__global__ void __launch_bounds__(1024, 1) shared_ops_kernel(int64_t per_thread, int mode,
                                                             unsigned long long* sink) {
  extern __shared__ unsigned tile[];  // 128 KiB: more than static shared memory may hold
  unsigned* lo = tile;
  int* hi = reinterpret_cast<int*>(tile + kPanel * kPanel);
  for (int i = threadIdx.x; i < kPanel * kPanel; i += blockDim.x) {
    lo[i] = 0u;
    hi[i] = 0;
  }
  __syncthreads();
  unsigned state = unsigned(mix(blockIdx.x * 1024ull + threadIdx.x));
  unsigned long long acc = 0;
  for (int64_t t = 0; t < per_thread; ++t) {
    state = state * 1664525u + 1013904223u;
    int at = int(state >> 18);  // 14 bits: a tile entry
    if (mode == 3) at = (at & ~31) | int(threadIdx.x & 31);
    const long long v = (long long)state << 7;
    if (mode == 0 || mode == 3) {
      acc += lo[at ^ 1];  // the product's other factor comes from shared memory
      const unsigned v_lo = unsigned((unsigned long long)v);
      const unsigned old = atomicAdd(lo + at, v_lo);
      const int carry = unsigned(old + v_lo) < old ? 1 : 0;
      atomicAdd(hi + at, int(v >> 32) + carry);
    } else if (mode == 4) {
      acc += lo[at ^ 1];
      atomicAdd(reinterpret_cast<unsigned long long*>(tile) + at, (unsigned long long)v);
    } else if (mode == 5) {
      acc += lo[at ^ 1];
      atomicAdd(reinterpret_cast<double*>(tile) + at, double(v));
    } else if (mode == 1) {
      atomicAdd(lo + at, unsigned(v));
    } else {
      acc += lo[at];
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kPanel * kPanel; i += blockDim.x) acc += lo[i] + unsigned(hi[i]);
  atomicAdd(sink, acc);
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

unsigned blocks_for(int64_t n) { return unsigned(std::min<int64_t>((n + 255) / 256, 132 * 32)); }

// Best of reps after one warm-up.
double best_time(int reps, const std::function<void()>& run) {
  run();
  CHECK_CUDA(cudaDeviceSynchronize());
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now();
    run();
    CHECK_CUDA(cudaDeviceSynchronize());
    best = std::min(best, now() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1430154;
  const double products = argc > 2 ? std::atof(argv[2]) : 2.2e10;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 3;
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("%s, %d SMs; %lld rows x %d genes at %.2f%%, chunks of %lld rows\n", prop.name,
              prop.multiProcessorCount, (long long)rows, kGenes, 100 * kDensity,
              (long long)kChunkRows);
  cublasHandle_t h;
  CHECK_CUBLAS(cublasCreate(&h));
  const size_t g2 = size_t(kGenes) * kGenes;
  const size_t chunk = size_t(kChunkRows) * kGenes;
  double *dense64, *gram_ref, *gram;
  float *dense32, *part;
  __half *hi, *lo;
  CHECK_CUDA(cudaMalloc(&dense64, chunk * sizeof(double)));
  CHECK_CUDA(cudaMalloc(&dense32, chunk * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&hi, chunk * sizeof(__half)));
  CHECK_CUDA(cudaMalloc(&lo, chunk * sizeof(__half)));
  CHECK_CUDA(cudaMalloc(&gram_ref, g2 * sizeof(double)));
  CHECK_CUDA(cudaMalloc(&gram, g2 * sizeof(double)));
  CHECK_CUDA(cudaMalloc(&part, g2 * sizeof(float)));
  const double one = 1.0;
  const float onef = 1.0f, zerof = 0.0f;

  // Each method: over all chunks, densify then multiply into `out`.
  auto over_chunks = [&](double* out, const std::function<void(int64_t, int64_t)>& chunk_step) {
    CHECK_CUDA(cudaMemsetAsync(out, 0, g2 * sizeof(double)));
    for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) chunk_step(r0, std::min(kChunkRows, rows - r0));
  };
  auto low_precision_sum = [&](double* out) {
    add_float_kernel<<<blocks_for(int64_t(g2)), 256>>>(int64_t(g2), part, out);
  };
  auto gemm16 = [&](const __half* a, const __half* b, int64_t n, float beta) {
    CHECK_CUBLAS(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_T, kGenes, kGenes, int(n), &onef, a,
                              CUDA_R_16F, kGenes, b, CUDA_R_16F, kGenes, &beta, part, CUDA_R_32F,
                              kGenes, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  };
  struct Method {
    std::string name;
    double* out;
    std::function<void(int64_t, int64_t)> step;
  };
  std::vector<Method> methods = {
      {"float64 Dsyrk (reference)", gram_ref,
       [&](int64_t r0, int64_t n) {
         densify_kernel<<<blocks_for(n * kGenes), 256>>>(r0, n, ToDouble{dense64});
         CHECK_CUBLAS(cublasDsyrk(h, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, kGenes, int(n), &one,
                                  dense64, kGenes, &one, gram_ref, kGenes));
       }},
      {"float16, one pass", gram,
       [&](int64_t r0, int64_t n) {
         densify_kernel<<<blocks_for(n * kGenes), 256>>>(r0, n, ToHalf{hi});
         gemm16(hi, hi, n, zerof);
         low_precision_sum(gram);
       }},
      {"float16 hi + lo, three passes", gram,
       [&](int64_t r0, int64_t n) {
         densify_kernel<<<blocks_for(n * kGenes), 256>>>(r0, n, ToHalfPair{hi, lo});
         gemm16(hi, hi, n, zerof);
         gemm16(hi, lo, n, onef);
         gemm16(lo, hi, n, onef);
         low_precision_sum(gram);
       }},
      {"TF32, one pass", gram,
       [&](int64_t r0, int64_t n) {
         densify_kernel<<<blocks_for(n * kGenes), 256>>>(r0, n, ToFloat{dense32});
         CHECK_CUBLAS(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_T, kGenes, kGenes, int(n), &onef,
                                   dense32, CUDA_R_32F, kGenes, dense32, CUDA_R_32F, kGenes,
                                   &zerof, part, CUDA_R_32F, kGenes,
                                   CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT));
         low_precision_sum(gram);
       }},
  };
  const double densify_only = best_time(reps, [&] {
    for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
      const int64_t n = std::min(kChunkRows, rows - r0);
      densify_kernel<<<blocks_for(n * kGenes), 256>>>(r0, n, ToHalfPair{hi, lo});
    }
  });
  std::printf("\n1. Dense Gram on tensor cores (best of %d after a warm-up)\n", reps);
  std::printf("%-32s %9s %22s %22s\n", "method", "seconds", "max |err| / max |G|",
              "max rel. err, diagonal");
  std::vector<double> ref(g2), got(g2);
  for (size_t m = 0; m < methods.size(); ++m) {
    const double t = best_time(reps, [&] { over_chunks(methods[m].out, methods[m].step); });
    double err = 0, diag_err = 0;
    if (m == 0) {
      CHECK_CUDA(cudaMemcpy(ref.data(), gram_ref, g2 * sizeof(double), cudaMemcpyDeviceToHost));
    } else {
      CHECK_CUDA(cudaMemcpy(got.data(), gram, g2 * sizeof(double), cudaMemcpyDeviceToHost));
      double top = 0;
      for (int j = 0; j < kGenes; ++j)
        for (int i = j; i < kGenes; ++i) top = std::max(top, std::fabs(ref[i + size_t(j) * kGenes]));
      for (int j = 0; j < kGenes; ++j) {
        for (int i = j; i < kGenes; ++i) {
          const size_t at = i + size_t(j) * kGenes;
          err = std::max(err, std::fabs(got[at] - ref[at]) / top);
        }
        const size_t d = j + size_t(j) * kGenes;
        diag_err = std::max(diag_err, std::fabs(got[d] - ref[d]) / ref[d]);
      }
    }
    if (m == 0)
      std::printf("%-32s %9.4f %22s %22s\n", methods[m].name.c_str(), t, "reference", "reference");
    else
      std::printf("%-32s %9.4f %22.2e %22.2e\n", methods[m].name.c_str(), t, err, diag_err);
  }
  std::printf("%-32s %9.4f   (float16 hi + lo, the part of each time above)\n", "densify only",
              densify_only);

  std::printf("\n2. The sparse tile kernel's shared operations alone, %.3g products\n", products);
  unsigned long long* sink;
  CHECK_CUDA(cudaMalloc(&sink, sizeof *sink));
  const int blocks = prop.multiProcessorCount;
  const int tile_bytes = 2 * kPanel * kPanel * 4;
  CHECK_CUDA(cudaFuncSetAttribute(shared_ops_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  tile_bytes));
  const int64_t per_thread = int64_t(std::ceil(products / (double(blocks) * 1024)));
  const char* modes[] = {"1 load + 2 atomics with carry (the kernel's)", "1 32-bit atomic",
                         "1 load", "the kernel's, no bank conflicts",
                         "1 load + 1 64-bit integer atomic", "1 load + 1 float64 atomic"};
  for (int mode = 0; mode < 6; ++mode) {
    const double t = best_time(reps, [&] {
      shared_ops_kernel<<<blocks, 1024, tile_bytes>>>(per_thread, mode, sink);
    });
    std::printf("%-48s %9.4f s  (%.3g a second)\n", modes[mode], t,
                double(per_thread) * blocks * 1024 / t);
  }
  CHECK_CUDA(cudaGetLastError());
  return 0;
}
