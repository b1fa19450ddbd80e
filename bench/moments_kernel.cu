// col_moments on the GPU, old kernel against new (issue 8): builds random CSR
// shards directly on the GPU, shaped like one GPU's share of the benchmark
// (1,430,156 cells x 45,854 genes, ~2,000 values a row, skewed gene
// popularity, integer counts) and like the 5,000-gene HVG subset (~175 a
// row), and times old (bench/moments_kernel_old.cuh, main before the
// rewrite) and new (src/cuda/moments_kernels.cu, plus variants built from
// the same source with other constants, see below) with and without expm1,
// and with expm1 and a clip: the median of several runs after a warm-up, the
// CSR bytes read over that time, and the device-to-device copy bandwidth of
// the same run. It also
// checks new against old (exact sums for integer counts; relative difference
// with expm1) and that new gives the same bits twice.
//
// Build (repository root, objects as tools/gpu-check.sh makes them):
//   nvcc $NVFLAGS -c src/cuda/moments_kernels.cu -DCELLSHARD_MOMENTS_BATCH=4 \
//     -Dcol_moments_on_device=col_moments_b4 -Dlast_moment_phases=last_moment_phases_b4 \
//     -o /tmp/mk_b4.o              (likewise _t512: THREADS=512, RANGE_SHIFT=12)
//   nvcc $NVFLAGS -o /tmp/moments_kernel bench/moments_kernel.cu /tmp/mk_b4.o /tmp/mk_t512.o \
//     $OBJ/*.o -lcusolver -lcublas -lnccl -lcudart $R_LAPACK -lpthread
//   /tmp/moments_kernel [rows] [genes] [per_row] [small_genes] [small_per_row] [reps]
// CELLSHARD_MOMENTS_BENCH_VARIANTS=0 leaves the variants out of the table.
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../src/core/buffer.h"
#include "../src/core/errors.h"
#include "../src/core/pipeline_kernels.h"
#include "../src/cuda/cuda_backend.h"
#include "../src/cuda/moments_kernels.h"
#include "../src/cuda/pipeline_device.h"
#include "moments_kernel_old.cuh"

namespace cellshard {
// Variants of the new kernel (see Build above).
void col_moments_b4(const CsrView&, const float*, const MomentOptions&, ColumnMoments);
MomentPhases last_moment_phases_b4();
void col_moments_t512(const CsrView&, const float*, const MomentOptions&, ColumnMoments);
MomentPhases last_moment_phases_t512();
}  // namespace cellshard

using namespace cellshard;

namespace moments_bench {

#define CHECK_CUDA(call)                                                          \
  do {                                                                            \
    cudaError_t e_ = (call);                                                      \
    if (e_ != cudaSuccess) {                                                      \
      std::fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(e_));            \
      std::exit(1);                                                               \
    }                                                                             \
  } while (0)

__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Row r holds gene g when a hash of (r, g) falls under p_g * f_r (p_g from a
// skewed popularity, f_r a depth factor of the row in [0.5, 1.5]).
__device__ __forceinline__ bool holds(int64_t r, int32_t g, int32_t n_cols, const float* p,
                                      unsigned long long& h) {
  h = mix64(0x9e3779b97f4a7c15ull * (unsigned long long)(r * n_cols + g) + 12345);
  const float depth = 0.5f + float(mix64((unsigned long long)r ^ 0xabcdefull) >> 40) * 0x1p-24f;
  return float(h >> 40) * 0x1p-24f < p[g] * depth;
}

__global__ void row_counts_kernel(int64_t n_rows, int32_t n_cols, const float* p, int64_t* counts) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; r < n_rows;
       r += (int64_t(gridDim.x) * blockDim.x) >> 5) {
    int64_t c = 0;
    for (int32_t g0 = 0; g0 < n_cols; g0 += 32) {
      unsigned long long h;
      const int32_t g = g0 + lane;
      c += __popc(__ballot_sync(0xffffffffu, g < n_cols && holds(r, g, n_cols, p, h)));
    }
    if (lane == 0) counts[r + 1] = c;
  }
}

__global__ void fill_kernel(int64_t n_rows, int32_t n_cols, const float* p,
                            const int64_t* indptr, int32_t* indices, float* values) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; r < n_rows;
       r += (int64_t(gridDim.x) * blockDim.x) >> 5) {
    int64_t at = indptr[r];
    for (int32_t g0 = 0; g0 < n_cols; g0 += 32) {
      unsigned long long h = 0;
      const int32_t g = g0 + lane;
      const bool in = g < n_cols && holds(r, g, n_cols, p, h);
      const unsigned mask = __ballot_sync(0xffffffffu, in);
      if (in) {
        const int64_t k = at + __popc(mask & ((1u << lane) - 1u));
        indices[k] = g;
        // counts: mostly 1..8, one in 16 up to 71 more
        values[k] = float(1 + (h & 7) + (((h >> 3) & 15) == 0 ? ((h >> 7) & 63) : 0));
      }
      at += __popc(mask);
    }
  }
}

struct Shard {
  BufferPtr indptr, indices, values;
  CsrView view;
  int64_t nnz = 0;
};

// Popularity p_g = min(0.95, C / (rank + 10)) over a random ranking of the
// genes, with C such that a row holds `per_row` genes on average.
Shard make_shard(int64_t rows, int32_t genes, double per_row, uint64_t seed) {
  auto total = [&](double c) {
    double s = 0;
    for (int32_t k = 0; k < genes; ++k) s += std::min(0.95, c / (k + 10.0));
    return s;
  };
  double lo = 0, hi = 1e7;
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    (total(mid) < per_row ? lo : hi) = mid;
  }
  std::vector<int32_t> rank(static_cast<size_t>(genes));
  for (int32_t g = 0; g < genes; ++g) rank[size_t(g)] = g;
  std::mt19937_64 rng(seed);
  std::shuffle(rank.begin(), rank.end(), rng);
  std::vector<float> p(static_cast<size_t>(genes));
  for (int32_t g = 0; g < genes; ++g) p[size_t(g)] = float(std::min(0.95, lo / (rank[size_t(g)] + 10.0)));
  BufferPtr pd = make_buffer(0, p.size() * sizeof(float));
  pd->upload(p.data(), pd->bytes());

  Shard s;
  s.indptr = make_buffer(0, size_t(rows + 1) * sizeof(int64_t));
  int64_t* ip = s.indptr->as<int64_t>();
  CHECK_CUDA(cudaMemset(ip, 0, sizeof(int64_t)));
  row_counts_kernel<<<132 * 16, 256>>>(rows, genes, pd->as<float>(), ip);
  CHECK_CUDA(cudaGetLastError());
  size_t scan_bytes = 0;
  CHECK_CUDA(cub::DeviceScan::InclusiveSum(nullptr, scan_bytes, ip + 1, ip + 1, int(rows)));
  BufferPtr scan = make_buffer(0, std::max<size_t>(scan_bytes, 1));
  CHECK_CUDA(cub::DeviceScan::InclusiveSum(scan->data(), scan_bytes, ip + 1, ip + 1, int(rows)));
  CHECK_CUDA(cudaMemcpy(&s.nnz, ip + rows, sizeof(int64_t), cudaMemcpyDeviceToHost));
  s.indices = make_buffer(0, size_t(s.nnz) * sizeof(int32_t));
  s.values = make_buffer(0, size_t(s.nnz) * sizeof(float));
  fill_kernel<<<132 * 16, 256>>>(rows, genes, pd->as<float>(), ip, s.indices->as<int32_t>(),
                                 s.values->as<float>());
  CHECK_CUDA(cudaGetLastError());
  CHECK_CUDA(cudaDeviceSynchronize());
  s.view.device = 0;
  s.view.n_rows = rows;
  s.view.n_cols = genes;
  s.view.nnz = s.nnz;
  s.view.indptr = ip;
  s.view.indices = s.indices->as<int32_t>();
  return s;
}

double seconds_of(const std::function<void()>& f) {
  CHECK_CUDA(cudaDeviceSynchronize());
  const auto t0 = std::chrono::steady_clock::now();
  f();
  CHECK_CUDA(cudaDeviceSynchronize());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Device-to-device copy of `bytes`: GB/s counting bytes read plus written.
double copy_bandwidth(size_t bytes, int reps) {
  BufferPtr a = make_buffer(0, bytes), b = make_buffer(0, bytes);
  CHECK_CUDA(cudaMemset(a->data(), 1, bytes));
  std::vector<double> t;
  for (int i = 0; i <= reps; ++i) {
    const double s = seconds_of([&] {
      CHECK_CUDA(cudaMemcpyAsync(b->data(), a->data(), bytes, cudaMemcpyDeviceToDevice, 0));
    });
    if (i > 0) t.push_back(s);
  }
  return 2.0 * double(bytes) / median(t) / 1e9;
}

using MomentsFn = void (*)(const CsrView&, const float*, const MomentOptions&, ColumnMoments);
using PhasesFn = MomentPhases (*)();

struct Kernel {
  const char* name;
  MomentsFn fn;
  PhasesFn phases;  // null: none
};

// Runs `k` on the shard into zeroed accumulators and returns sums, squares, counts.
std::vector<double> run(const Kernel& k, const Shard& s, const MomentOptions& o, BufferPtr acc) {
  const size_t n = size_t(s.view.n_cols);
  CHECK_CUDA(cudaMemset(acc->data(), 0, 3 * n * sizeof(double)));
  double* d = acc->as<double>();
  k.fn(s.view, s.values->as<float>(), o, ColumnMoments{d, d + n, d + 2 * n});
  std::vector<double> out(3 * n);
  acc->download(out.data(), 3 * n * sizeof(double));
  return out;
}

void bench_shard(const char* label, const Shard& s, const std::vector<Kernel>& kernels, int reps,
                 double copy_gbs) {
  const size_t n = size_t(s.view.n_cols);
  const double bytes = double(s.nnz) * 8.0 + double(s.view.n_rows + 1) * 8.0;
  std::printf("\n== %s: %lld rows x %lld genes, %lld values (%.1f a row), %.2f GB of CSR\n", label,
              (long long)s.view.n_rows, (long long)s.view.n_cols, (long long)s.nnz,
              double(s.nnz) / double(s.view.n_rows), bytes / 1e9);
  std::printf("%-10s %-6s %10s %10s %9s %8s %10s %9s  %s\n", "kernel", "expm1", "median s", "min s",
              "GB/s", "of copy", "vs old", "same bits", "check against old; phases (scales sums finish, s)");
  BufferPtr acc = make_buffer(0, 3 * n * sizeof(double));
  std::vector<double> clip(n);
  for (size_t g = 0; g < n; ++g) clip[g] = 20.0 + double(g % 64);  // cuts expm1 of counts over ~3
  for (int mode = 0; mode < 3; ++mode) {
    const bool use_expm1 = mode > 0;
    MomentOptions o;
    o.expm1 = use_expm1;
    if (mode == 2) o.clip = clip.data();
    std::vector<double> reference;
    double old_time = 0;
    for (const Kernel& k : kernels) {
      std::vector<double> first = run(k, s, o, acc);  // warm-up, and the result
      std::vector<double> t;
      for (int i = 0; i < reps; ++i) {
        CHECK_CUDA(cudaMemset(acc->data(), 0, 3 * n * sizeof(double)));
        double* d = acc->as<double>();
        t.push_back(seconds_of([&] {
          k.fn(s.view, s.values->as<float>(), o, ColumnMoments{d, d + n, d + 2 * n});
        }));
      }
      std::vector<double> again = run(k, s, o, acc);
      const bool same = std::memcmp(first.data(), again.data(), first.size() * 8) == 0;
      const double med = median(t), best = *std::min_element(t.begin(), t.end());
      std::string check;
      if (reference.empty()) {
        reference = first;
        old_time = med;
        check = "(reference)";
      } else {
        double worst_sum = 0, worst_sq = 0;
        bool counts_equal = true, exact = true;
        for (size_t g = 0; g < n; ++g) {
          const double a = reference[g], b = first[g];
          const double a2 = reference[n + g], b2 = first[n + g];
          exact = exact && a == b && a2 == b2;
          counts_equal = counts_equal && reference[2 * n + g] == first[2 * n + g];
          if (std::isfinite(a)) worst_sum = std::max(worst_sum, std::fabs(a - b) / std::max(std::fabs(a), 1e-300));
          if (std::isfinite(a2)) worst_sq = std::max(worst_sq, std::fabs(a2 - b2) / std::max(std::fabs(a2), 1e-300));
        }
        char buf[200];
        std::snprintf(buf, sizeof buf, "%s, counts %s, rel. diff sum %.1e sq %.1e",
                      exact ? "sums equal" : "sums differ", counts_equal ? "equal" : "DIFFER",
                      worst_sum, worst_sq);
        check = buf;
      }
      if (k.phases) {
        setenv("CELLSHARD_MOMENTS_PROFILE", "1", 1);
        run(k, s, o, acc);
        unsetenv("CELLSHARD_MOMENTS_PROFILE");
        const MomentPhases ph = k.phases();
        char buf[120];
        std::snprintf(buf, sizeof buf, "; %.4f %.4f %.4f", ph.scales, ph.sums, ph.finish);
        check += buf;
      }
      const double gbs = bytes / med / 1e9;
      std::printf("%-10s %-6s %10.4f %10.4f %9.0f %7.0f%% %9.2fx %9s  %s\n", k.name,
                  mode == 0 ? "no" : mode == 1 ? "yes" : "+clip", med, best, gbs, 100.0 * gbs / copy_gbs,
                  old_time / med, same ? "yes" : "NO", check.c_str());
      std::fflush(stdout);
    }
  }
}

}  // namespace moments_bench

using namespace moments_bench;

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1430156;
  const int32_t genes = argc > 2 ? int32_t(std::atoi(argv[2])) : 45854;
  const double per_row = argc > 3 ? std::atof(argv[3]) : 2007.0;
  const int32_t small_genes = argc > 4 ? int32_t(std::atoi(argv[4])) : 5000;
  const double small_per_row = argc > 5 ? std::atof(argv[5]) : 175.0;
  const int reps = argc > 6 ? std::atoi(argv[6]) : 5;
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::printf("%s\n", cuda_device_description(0).c_str());
  const double copy_gbs = copy_bandwidth(size_t(4) << 30, 5);
  std::printf("device-to-device copy of 4 GiB: %.0f GB/s (bytes read + written)\n", copy_gbs);

  std::vector<Kernel> kernels = {{"old", old_col_moments, nullptr},
                                 {"new", col_moments_on_device, last_moment_phases}};
  const char* v = std::getenv("CELLSHARD_MOMENTS_BENCH_VARIANTS");
  if (!v || std::strcmp(v, "0") != 0) {
    kernels.push_back({"new-b4", col_moments_b4, last_moment_phases_b4});
    kernels.push_back({"new-t512", col_moments_t512, last_moment_phases_t512});
  }
  try {
    {
      const auto t0 = std::chrono::steady_clock::now();
      Shard s = make_shard(rows, genes, per_row, 1);
      std::printf("(built the share in %.1f s)\n",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      bench_shard("share", s, kernels, reps, copy_gbs);
    }
    {
      Shard s = make_shard(rows, small_genes, small_per_row, 2);
      bench_shard("5,000-gene subset", s, kernels, reps, copy_gbs);
    }
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  return 0;
}
