// Where the sparse Gram method overtakes the dense one: times both (forced
// with CELLSHARD_GRAM_METHOD) on random shards of `rows` x `genes` whose rows
// hold a fixed fraction of the genes, over densities from 0.5% to 30%, and
// prints the seconds of each, their largest difference (relative to
// sqrt(G_ii G_jj)), the rates the choice in sparse_gram_tiles.cu is built on,
// which method the package picks, and the sparse method's phases (timed
// with a synchronisation at each phase's end).
//
// Build (repository root, objects as tools/gpu-check.sh makes them):
//   nvcc $NVFLAGS -o /tmp/gram_methods bench/gram_methods.cu $OBJ/*.o -lcusolver -lcublas \
//     -lnccl -lcudart $R_LAPACK -lpthread
//   /tmp/gram_methods [rows] [genes]          (defaults: 100000, 5000)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../src/core/buffer.h"
#include "../src/core/errors.h"
#include "../src/core/pipeline_kernels.h"
#include "../src/cuda/cuda_backend.h"
#include "../src/cuda/cuda_pipeline_kernels.h"
#include "../src/cuda/sparse_gram_tiles.h"

using namespace cellshard;

namespace {

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 100000;
  const int64_t genes = argc > 2 ? std::atoll(argv[2]) : 5000;
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::printf("%s\n%lld rows x %lld genes\n", cuda_device_description(0).c_str(),
              (long long)rows, (long long)genes);
  std::printf("%8s %11s %9s %9s %8s %10s %13s %13s %6s  %s\n", "density", "nnz", "sparse s",
              "dense s", "dense/sp", "max diff", "products/s", "visits/s", "picks",
              "sparse phases: scales layout tiles finish");
  setenv("CELLSHARD_GRAM_PROFILE", "1", 1);
  PipelineKernels& gpu = cuda_pipeline_kernels();
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const size_t n2 = size_t(genes) * size_t(genes);
  BufferPtr gram = make_buffer(0, n2 * sizeof(double));
  for (double density : {0.005, 0.035, 0.1, 0.2, 0.3}) {
    // Genes of a row by geometric gaps: each gene in with probability `density`.
    std::vector<int64_t> indptr{0};
    std::vector<int32_t> indices;
    std::vector<float> values;
    const double log_miss = std::log1p(-density);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t g = int64_t(std::floor(std::log(1.0 - unit(rng)) / log_miss)); g < genes;
           g += 1 + int64_t(std::floor(std::log(1.0 - unit(rng)) / log_miss))) {
        indices.push_back(int32_t(g));
        values.push_back(float(-2.0 + 12.0 * unit(rng)));
      }
      indptr.push_back(int64_t(indices.size()));
    }
    BufferPtr ip = make_buffer(0, indptr.size() * sizeof(int64_t));
    BufferPtr ix = make_buffer(0, std::max<size_t>(indices.size(), 1) * sizeof(int32_t));
    BufferPtr vx = make_buffer(0, std::max<size_t>(values.size(), 1) * sizeof(float));
    ip->upload(indptr.data(), ip->bytes());
    ix->upload(indices.data(), indices.size() * sizeof(int32_t));
    vx->upload(values.data(), values.size() * sizeof(float));
    CsrView v;
    v.device = 0;
    v.n_rows = rows;
    v.n_cols = genes;
    v.nnz = indptr.back();
    v.indptr = ip->as<int64_t>();
    v.indices = ix->as<int32_t>();
    const GramWork work = gram_work_on_device(use_device(0), v);
    std::vector<double> result[2];
    double best[2] = {INFINITY, INFINITY};
    const char* methods[2] = {"sparse", "dense"};
    SparseGramPhases phases;
    for (int m = 0; m < 2; ++m) {
      setenv("CELLSHARD_GRAM_METHOD", methods[m], 1);
      for (int rep = 0; rep < 3; ++rep) {
        CS_CHECK(cudaMemset(gram->data(), 0, gram->bytes()) == cudaSuccess, "memset");
        CS_CHECK(cudaDeviceSynchronize() == cudaSuccess, "sync");
        const double s = seconds_of([&] { gpu.gram(v, vx->as<float>(), gram->as<double>()); });
        if (m == 0 && s < best[m]) phases = sparse_gram_last_phases();
        best[m] = std::min(best[m], s);
        if (s > 1.0) break;  // slow enough to time once
      }
      result[m].resize(n2);
      gram->download(result[m].data(), gram->bytes());
    }
    unsetenv("CELLSHARD_GRAM_METHOD");
    double worst = 0;
    for (int64_t j = 0; j < genes; ++j)
      for (int64_t i = 0; i < genes; ++i) {
        const double scale = std::sqrt(std::fabs(result[1][size_t(i + i * genes)]) *
                                       std::fabs(result[1][size_t(j + j * genes)]));
        const double diff = std::fabs(result[0][size_t(i + j * genes)] - result[1][size_t(i + j * genes)]);
        worst = std::max(worst, scale > 0 ? diff / scale : diff);
      }
    const double panels = std::ceil(double(genes) / 128.0);  // sparse_gram_tiles.cu's kPanel
    const SparseGramPhases ph = phases;
    std::printf("%8.4f %11lld %9.4f %9.4f %8.2f %10.2e %13.3e %13.3e %6s  %.4f %.4f %.4f %.4f\n",
                density, (long long)indptr.back(), best[0], best[1], best[1] / best[0], worst,
                work.sum_squared_lengths / 2 / best[0],
                panels * (panels + 1) / 2 * double(rows) / best[0],
                sparse_gram_is_faster(work) ? "sparse" : "dense", ph.scales, ph.layout, ph.tiles,
                ph.finish);
  }
  return 0;
}
