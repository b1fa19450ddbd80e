// The sparse Gram, old tile kernel against new (issue 8): builds random CSR
// shards on the GPU shaped like PCA's input at one GPU's share of the
// benchmark (1,430,156 cells x 5,000 genes, 3.5% dense), with every gene
// equally likely ("uniform") or with skewed gene popularity and row lengths
// ("skewed": gene g present with probability d_g, log-normal with sigma 1.5,
// at most 0.9, times a log-normal row factor with sigma 0.3; mean density the
// same), and times old (bench/sparse_gram_old.cuh, main before the rewrite)
// and new (src/cuda/sparse_gram_tiles.cu): the best of `reps` runs after a
// warm-up, each method's phases (CELLSHARD_GRAM_PROFILE), the products a
// second. It checks whether new gives the same bits as old (exact integer
// sums per row block: it did until session 23, whose 2^17 rows a block round
// each product to one fraction bit fewer, ~2e-14 of sqrt(G_ii G_jj) apart)
// and the same bits twice.
//
// Build (repository root, objects as tools/gpu-check.sh makes them):
//   nvcc $NVFLAGS -o /tmp/gram_kernel bench/gram_kernel.cu $OBJ/*.o -lcusolver -lcublas \
//     -lnccl -lcudart $R_LAPACK -lpthread
//   /tmp/gram_kernel [rows] [genes] [density] [reps] [kinds: uniform,skewed]
// reps = 1 runs each method once with no warm-up (for ncu).
// With -DGRAM_BENCH_VARIANT, a third method: another version of
// sparse_gram_tiles.cu built with renamed entry points (-Dsparse_gram_lower=
// variant_sparse_gram_lower -Dsparse_gram_last_phases=variant_sparse_gram_last_phases
// -Dsparse_gram_is_faster=variant_sparse_gram_is_faster
// -Dgram_work_on_device=variant_gram_work_on_device).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <cub/device/device_scan.cuh>

#include "../src/core/buffer.h"
#include "../src/core/errors.h"
#include "../src/cuda/cuda_backend.h"
#include "../src/cuda/device_context.h"
#include "../src/cuda/sparse_gram_tiles.h"
#include "random_shard.cuh"
#include "sparse_gram_old.cuh"

using namespace cellshard;

#ifdef GRAM_BENCH_VARIANT
namespace cellshard {
bool variant_sparse_gram_lower(const DeviceContext&, const CsrView&, const float*,
                               const RowPointers&, double*);
SparseGramPhases variant_sparse_gram_last_phases();
}  // namespace cellshard
constexpr int kMethods = 3;
#else
constexpr int kMethods = 2;
#endif


int main(int argc, char** argv) {
  using namespace gram_bench;
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1430156;
  const int genes = argc > 2 ? std::atoi(argv[2]) : 5000;
  const double density = argc > 3 ? std::atof(argv[3]) : 0.035;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 5;
  const std::string kinds = argc > 5 ? argv[5] : "uniform,skewed";
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::printf("%s\n%lld rows x %d genes, density %.4f, best of %d\n",
              cuda_device_description(0).c_str(), (long long)rows, genes, density, reps);
  setenv("CELLSHARD_GRAM_PROFILE", "1", 1);
  const DeviceContext& ctx = use_device(0);
  const size_t n2 = size_t(genes) * size_t(genes);
  BufferPtr gram = make_buffer(0, n2 * sizeof(double));
  for (const char* kind : {"uniform", "skewed"}) {
    if (kinds.find(kind) == std::string::npos) continue;
    Shard s = make_shard(rows, genes, density, std::strcmp(kind, "skewed") == 0, 7);
    double sq = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const double l = double(s.host_indptr[size_t(r) + 1] - s.host_indptr[size_t(r)]);
      sq += l * l;
    }
    std::printf("\n%s: nnz %lld (%.2f a row), products (sum len^2 / 2) %.3e\n", kind,
                (long long)s.view.nnz, double(s.view.nnz) / double(rows), sq / 2);
    std::printf("%-5s %9s %9s %11s   phases: %7s %7s %7s %7s\n", "", "best s", "median s",
                "products/s", "scales", "layout", "tiles", "finish");
    std::vector<double> result[kMethods];
    for (int m = 0; m < kMethods; ++m) {
      std::vector<double> times;
      SparseGramPhases best_phases;
      double best = INFINITY;
      for (int rep = 0; rep < (reps > 1 ? reps + 1 : 1); ++rep) {
        CS_CHECK(cudaMemset(gram->data(), 0, gram->bytes()) == cudaSuccess, "memset");
        CS_CHECK(cudaDeviceSynchronize() == cudaSuccess, "sync");
        const auto t0 = std::chrono::steady_clock::now();
        bool ok = false;
        if (m == 0)
          ok = old_gram::old_sparse_gram_lower(ctx, s.view, s.values->as<float>(), s.host_indptr,
                                               gram->as<double>());
        else if (m == 1)
          ok = sparse_gram_lower(ctx, s.view, s.values->as<float>(), s.host_indptr, gram->as<double>());
#ifdef GRAM_BENCH_VARIANT
        else
          ok = variant_sparse_gram_lower(ctx, s.view, s.values->as<float>(), s.host_indptr,
                                         gram->as<double>());
#endif
        const double t = seconds_since(t0);
        CS_CHECK(ok, "sparse gram refused");
        if (reps > 1 && rep == 0) continue;  // warm-up
        times.push_back(t);
        if (t < best) {
          best = t;
          best_phases = m == 0 ? old_gram::old_sparse_gram_last_phases() : sparse_gram_last_phases();
#ifdef GRAM_BENCH_VARIANT
          if (m == 2) best_phases = variant_sparse_gram_last_phases();
#endif
        }
      }
      std::vector<double> got(n2);
      gram->download(got.data(), gram->bytes());
      if (m == 1) {  // once more: the same bits?
        CS_CHECK(cudaMemset(gram->data(), 0, gram->bytes()) == cudaSuccess, "memset");
        sparse_gram_lower(ctx, s.view, s.values->as<float>(), s.host_indptr, gram->as<double>());
        std::vector<double> again(n2);
        gram->download(again.data(), gram->bytes());
        std::printf("new twice: %s\n",
                    std::memcmp(got.data(), again.data(), n2 * 8) == 0 ? "same bits" : "DIFFERENT BITS");
      }
      result[m] = std::move(got);
      std::sort(times.begin(), times.end());
      const SparseGramPhases& ph = best_phases;
      std::printf("%-5s %9.4f %9.4f %11.3e   phases: %7.4f %7.4f %7.4f %7.4f\n",
                  m == 0 ? "old" : m == 1 ? "new" : "var",
                  best, times[times.size() / 2], sq / 2 / best, ph.scales, ph.layout, ph.tiles,
                  ph.finish);
    }
    for (int m = 1; m < kMethods; ++m) {
      size_t differ = 0;
      double worst = 0;
      for (size_t j = 0; j < size_t(genes); ++j)
        for (size_t i = j; i < size_t(genes); ++i) {
          const double a = result[0][i + j * genes], b = result[m][i + j * genes];
          if (std::memcmp(&a, &b, 8) != 0) ++differ;
          const double scale =
              std::sqrt(std::fabs(result[0][i + i * genes] * result[0][j + j * genes]));
          worst = std::max(worst, scale > 0 ? std::fabs(a - b) / scale : std::fabs(a - b));
        }
      std::printf("%s vs old: %s (%zu of the lower triangle's entries differ, largest %.2e of "
                  "sqrt(G_ii G_jj))\n",
                  m == 1 ? "new" : "var", differ == 0 ? "same bits" : "DIFFERENT", differ, worst);
    }
  }
  return 0;
}
