// Whether PCA's projection could run beside chefsi's filter (issue 8).
// chefsi's filter is a chain of float64 GEMMs, A (n x n) times a block of
// about 128 columns, whose few output tiles leave SMs idle; the projection
// (X V on the sparse shard) waits for the last eigenvector today. On one GPU,
// with a random shard shaped like the seed share (bench/random_shard.cuh,
// uniform genes): (a) `steps` such GEMMs on a stream of their own with the
// highest priority, (b) the package's sparse projection (multiply_on_device,
// k = 100) on the device's stream, (c) both at once. Wall seconds, median of
// `reps` after a warm-up, and whether (c)'s scores are (b)'s bits. If (c)
// is near max(a, b), projecting the pairs as they lock would hide most of
// the projection behind the filter.
//
// Build (repository root, the package's objects as bench/gram-device-run.sh
// links them):
//   nvcc $NVFLAGS -c bench/pca_overlap.cu -o /tmp/pca_overlap.o
//   g++ -o /tmp/pca_overlap /tmp/pca_overlap.o src/core/*.o src/cpu/*.o src/cuda/*.o $LIBS
//   /tmp/pca_overlap [rows] [genes] [density] [steps] [width] [reps]   (1430156 5000 0.035 140 128 5)
#include <cublas_v2.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "../src/cuda/cuda_backend.h"
#include "../src/cuda/device_context.h"
#include "../src/cuda/pipeline_device.h"
#include "random_shard.cuh"

using namespace cellshard;

namespace {

double median_seconds(const std::function<void()>& f, int reps) {
  f();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(gram_bench::seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1430156;
  const int genes = argc > 2 ? std::atoi(argv[2]) : 5000;
  const double density = argc > 3 ? std::atof(argv[3]) : 0.035;
  const int steps = argc > 4 ? std::atoi(argv[4]) : 140;
  const int width = argc > 5 ? std::atoi(argv[5]) : 128;
  const int reps = argc > 6 ? std::atoi(argv[6]) : 5;
  const int k = 100;
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::printf("%s\n%lld rows x %d genes at %.4f; %d GEMMs of %d x %d by %d columns; k = %d\n",
              cuda_device_description(0).c_str(), (long long)rows, genes, density, steps, genes,
              genes, width, k);
  const DeviceContext& ctx = use_device(0);
  gram_bench::Shard s = gram_bench::make_shard(rows, genes, density, false, 7);

  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  const size_t n = size_t(genes);
  std::vector<double> host_a(n * n), host_y(n * size_t(width));
  for (double& x : host_a) x = unit(rng);
  for (double& x : host_y) x = unit(rng);
  BufferPtr a = make_buffer(0, host_a.size() * sizeof(double));
  BufferPtr y = make_buffer(0, host_y.size() * sizeof(double));
  BufferPtr z = make_buffer(0, host_y.size() * sizeof(double));
  a->upload(host_a.data(), a->bytes());
  y->upload(host_y.data(), y->bytes());
  std::vector<float> v(n * size_t(k));
  for (float& x : v) x = float(unit(rng) * 0.05);
  std::vector<double> shift(static_cast<size_t>(k));
  for (double& x : shift) x = unit(rng);
  BufferPtr out = make_buffer(0, size_t(rows) * size_t(k) * sizeof(double));

  int least = 0, greatest = 0;
  CS_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest) == cudaSuccess, "priorities");
  cudaStream_t side;
  CS_CHECK(cudaStreamCreateWithPriority(&side, cudaStreamNonBlocking, greatest) == cudaSuccess,
           "stream");
  cublasHandle_t blas;
  CS_CHECK(cublasCreate(&blas) == CUBLAS_STATUS_SUCCESS && cublasSetStream(blas, side) == 0,
           "cublas");
  const double one = 1.0, zero = 0.0;
  const auto gemms = [&] {  // Y_{j+1} = A Y_j, alternating between two blocks
    for (int i = 0; i < steps; ++i) {
      const double* from = (i & 1) ? z->as<double>() : y->as<double>();
      double* to = (i & 1) ? y->as<double>() : z->as<double>();
      CS_CHECK(cublasDgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, genes, width, genes, &one,
                           a->as<double>(), genes, from, genes, &zero, to, genes) ==
                   CUBLAS_STATUS_SUCCESS,
               "cublasDgemm");
    }
  };
  const auto project = [&] {
    multiply_on_device(s.view, s.values->as<float>(), v.data(), k, shift.data(),
                       out->as<double>(), rows);
  };
  const auto scores = [&] {
    std::vector<double> h(size_t(rows) * size_t(k));
    out->download(h.data(), out->bytes());
    return h;
  };

  const double t_gemms = median_seconds([&] {
    gemms();
    CS_CHECK(cudaStreamSynchronize(side) == cudaSuccess, "sync");
  }, reps);
  const double t_project = median_seconds(project, reps);
  const std::vector<double> alone = scores();
  const double t_both = median_seconds([&] {
    gemms();    // queued on the high-priority stream
    project();  // the device's stream, waits for its own kernel
    CS_CHECK(cudaStreamSynchronize(side) == cudaSuccess, "sync");
  }, reps);
  const bool same = scores() == alone;
  std::printf("(a) GEMMs alone       %.4f s (%.1f TFLOP/s)\n", t_gemms,
              2.0 * double(n) * double(n) * width * steps / t_gemms * 1e-12);
  std::printf("(b) projection alone  %.4f s\n", t_project);
  std::printf("(c) both at once      %.4f s  (a + b = %.4f, max = %.4f); scores %s\n", t_both,
              t_gemms + t_project, std::max(t_gemms, t_project),
              same ? "the same bits as (b)" : "DIFFERENT from (b)");
  cublasDestroy(blas);
  cudaStreamDestroy(side);
  return 0;
}
