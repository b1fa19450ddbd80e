// The float64 GEMM that chefsi's filter repeats (issue 8): A (n x n) times a
// block of w columns, for the widths the block takes as pairs lock. For each
// width: cublasDgemm as the package calls it, and every algorithm cuBLASLt's
// heuristic offers (up to 32: tiles, split-K, reduction schemes), each timed;
// the fastest one's configuration, whether it gives the same bits twice, and
// its largest difference from cublasDgemm relative to the largest |entry|;
// then cublasDsymm (A symmetric, its lower triangle read: at narrow widths the
// GEMM is bound by reading A) with the same two checks. A is symmetric.
// Median of 15 calls after a warm-up, seconds from CUDA events.
//
// Build (repository root):
//   nvcc -std=c++17 -O2 -gencode=arch=compute_90,code=sm_90 -o /tmp/gemm_widths \
//     bench/gemm_widths.cu -lcublasLt -lcublas
//   /tmp/gemm_widths [n] [widths, comma-separated]     (5000 16,32,...,192)
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "event_timer.cuh"

namespace {

std::vector<double> download(const double* d, size_t count) {
  std::vector<double> h(count);
  ok(cudaMemcpy(h.data(), d, count * sizeof(double), cudaMemcpyDeviceToHost) == cudaSuccess, "copy");
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 5000;
  std::vector<int> widths;
  if (argc > 2) {
    std::string s = argv[2];
    for (size_t at = 0; at < s.size();) {
      size_t end = s.find(',', at);
      if (end == std::string::npos) end = s.size();
      widths.push_back(std::atoi(s.substr(at, end - at).c_str()));
      at = end + 1;
    }
  } else {
    for (int w = 16; w <= 192; w += 16) widths.push_back(w);
  }
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  std::printf("GPU: %s; A %d x %d times %d-column blocks, median of 15 (ms)\n", prop.name, n, n,
              int(widths.size()));
  const int wmax = *std::max_element(widths.begin(), widths.end());
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::vector<double> host_a(size_t(n) * n), host_x(size_t(n) * wmax);
  for (double& v : host_a) v = unit(rng);
  for (int j = 0; j < n; ++j)  // symmetric: the upper triangle mirrors the lower
    for (int i = 0; i < j; ++i) host_a[size_t(i) + size_t(j) * n] = host_a[size_t(j) + size_t(i) * n];
  for (double& v : host_x) v = unit(rng);
  double *a, *x, *y, *y2;
  void* workspace;
  const size_t workspace_bytes = size_t(64) << 20;
  ok(cudaMalloc(&a, host_a.size() * 8) == cudaSuccess, "malloc");
  ok(cudaMalloc(&x, host_x.size() * 8) == cudaSuccess, "malloc");
  ok(cudaMalloc(&y, size_t(n) * wmax * 8) == cudaSuccess, "malloc");
  ok(cudaMalloc(&y2, size_t(n) * wmax * 8) == cudaSuccess, "malloc");
  ok(cudaMalloc(&workspace, workspace_bytes) == cudaSuccess, "malloc");
  cudaMemcpy(a, host_a.data(), host_a.size() * 8, cudaMemcpyHostToDevice);
  cudaMemcpy(x, host_x.data(), host_x.size() * 8, cudaMemcpyHostToDevice);
  cublasHandle_t blas;
  cublasLtHandle_t lt;
  ok(cublasCreate(&blas) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
  ok(cublasLtCreate(&lt) == CUBLAS_STATUS_SUCCESS, "cublasLtCreate");
  const double one = 1.0, zero = 0.0;
  std::printf("%5s %9s %8s %9s %8s %9s %8s  %-44s %5s %9s\n", "width", "Dgemm ms", "TFLOP/s",
              "Lt #0 ms", "TFLOP/s", "best ms", "TFLOP/s", "best: algo id, tile, split-K, scheme, stages",
              "bits", "rel diff");
  std::vector<std::string> symm_rows;
  for (int w : widths) {
    const double flop = 2.0 * n * double(n) * w;
    const double dgemm = median_ms([&] {
      cublasDgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, w, n, &one, a, n, x, n, &zero, y, n);
    }, 15);
    const std::vector<double> want = download(y, size_t(n) * w);

    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lx, ly;
    ok(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_64F, CUDA_R_64F) == 0, "desc");
    ok(cublasLtMatrixLayoutCreate(&la, CUDA_R_64F, n, n, n) == 0, "layout");
    ok(cublasLtMatrixLayoutCreate(&lx, CUDA_R_64F, n, w, n) == 0, "layout");
    ok(cublasLtMatrixLayoutCreate(&ly, CUDA_R_64F, n, w, n) == 0, "layout");
    cublasLtMatmulPreference_t pref;
    ok(cublasLtMatmulPreferenceCreate(&pref) == 0, "pref");
    ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                            &workspace_bytes, sizeof workspace_bytes) == 0, "pref");
    cublasLtMatmulHeuristicResult_t results[32];
    int found = 0;
    ok(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lx, ly, ly, pref, 32, results, &found) == 0,
       "heuristic");
    double first = 0, best = 1e30;
    int best_i = -1;
    for (int i = 0; i < found; ++i) {
      if (results[i].state != CUBLAS_STATUS_SUCCESS) continue;
      const auto call = [&] {
        cublasLtMatmul(lt, op, &one, a, la, x, lx, &zero, y2, ly, y2, ly, &results[i].algo,
                       workspace, workspace_bytes, 0);
      };
      const double t = median_ms(call, 15);
      if (i == 0) first = t;
      if (t < best) {
        best = t;
        best_i = i;
      }
    }
    std::string config = "none";
    bool same = false;
    double diff = 0, scale = 0;
    if (best_i >= 0) {
      const cublasLtMatmulAlgo_t& algo = results[best_i].algo;
      int id = 0, tile = 0, splitk = 0, stages = 0;
      unsigned scheme = 0;
      size_t written = 0;
      cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &written);
      cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &written);
      cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof splitk, &written);
      cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &scheme, sizeof scheme, &written);
      cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof stages, &written);
      config = "#" + std::to_string(best_i) + ": id " + std::to_string(id) + ", tile " +
               std::to_string(tile) + ", split " + std::to_string(splitk) + ", scheme " +
               std::to_string(scheme) + ", stages " + std::to_string(stages);
      const auto call = [&](double* out) {
        cublasLtMatmul(lt, op, &one, a, la, x, lx, &zero, out, ly, out, ly, &algo, workspace,
                       workspace_bytes, 0);
        cudaDeviceSynchronize();
      };
      call(y2);
      const std::vector<double> g1 = download(y2, size_t(n) * w);
      call(y2);
      const std::vector<double> g2 = download(y2, size_t(n) * w);
      same = std::memcmp(g1.data(), g2.data(), g1.size() * 8) == 0;
      for (size_t k = 0; k < g1.size(); ++k) {
        diff = std::max(diff, std::fabs(g1[k] - want[k]));
        scale = std::max(scale, std::fabs(want[k]));
      }
    }
    std::printf("%5d %9.4f %8.1f %9.4f %8.1f %9.4f %8.1f  %-44s %5s %9.2e\n", w, dgemm,
                flop / dgemm * 1e-9, first, flop / first * 1e-9, best, flop / best * 1e-9,
                config.c_str(), same ? "same" : "DIFF", scale > 0 ? diff / scale : diff);
    {  // Dsymm: the lower triangle of A
      const auto symm = [&](double* out) {
        cublasDsymm(blas, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_LOWER, n, w, &one, a, n, x, n, &zero,
                    out, n);
      };
      const double t = median_ms([&] { symm(y2); }, 15);
      symm(y2);
      cudaDeviceSynchronize();
      const std::vector<double> s1 = download(y2, size_t(n) * w);
      symm(y2);
      cudaDeviceSynchronize();
      const std::vector<double> s2 = download(y2, size_t(n) * w);
      double sdiff = 0, sscale = 0;
      for (size_t k = 0; k < s1.size(); ++k) {
        sdiff = std::max(sdiff, std::fabs(s1[k] - want[k]));
        sscale = std::max(sscale, std::fabs(want[k]));
      }
      char line[160];
      std::snprintf(line, sizeof line, "%5d %9.4f %9.4f %8.1f %5s %9.2e", w, dgemm, t,
                    flop / t * 1e-9,
                    std::memcmp(s1.data(), s2.data(), s1.size() * 8) == 0 ? "same" : "DIFF",
                    sscale > 0 ? sdiff / sscale : sdiff);
      symm_rows.push_back(line);
    }
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lx);
    cublasLtMatrixLayoutDestroy(ly);
    cublasLtMatmulDescDestroy(op);
  }
  std::printf("\n%5s %9s %9s %8s %5s %9s\n", "width", "Dgemm ms", "Dsymm ms", "TFLOP/s", "bits",
              "rel diff");
  for (const std::string& row : symm_rows) std::printf("%s\n", row.c_str());
  return 0;
}
