// The small symmetric eigenproblem of chefsi's Rayleigh-Ritz step (p x p,
// p = 160 at k = 100), on the GPU by each of cuSOLVER's routines that could
// take it: how long one call takes (median of 20 after a warm-up, the stream
// synchronised as chefsi does), and how far each answer is from syevd's.
// Two kinds of matrix: a random one with a single-cell-like spectrum, and a
// nearly diagonal one (the Ritz values on the diagonal, off-diagonal entries
// 1e-6 of them: what the step sees once the block has nearly converged).
//   nvcc -O2 -std=c++17 -arch=sm_90 bench/small_eigen.cu -lcusolver -lcublas -o /tmp/small_eigen
//   /tmp/small_eigen [sizes, e.g. 64,100,160,192]
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#define CK(x)                                                                  \
  do {                                                                         \
    auto s_ = (x);                                                             \
    if (s_ != 0) {                                                             \
      std::printf("%s failed (%d) at line %d\n", #x, int(s_), __LINE__);       \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)

namespace {

using Clock = std::chrono::steady_clock;

// Q diag(lambda) Q^T with Q from a QR of a random matrix (Gram-Schmidt, twice).
std::vector<double> with_spectrum(std::mt19937_64& rng, const std::vector<double>& lambda) {
  const size_t n = lambda.size();
  std::normal_distribution<double> normal;
  std::vector<double> q(n * n);
  for (double& x : q) x = normal(rng);
  for (size_t j = 0; j < n; ++j)
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t l = 0; l < j; ++l) {
        double d = 0;
        for (size_t i = 0; i < n; ++i) d += q[i + j * n] * q[i + l * n];
        for (size_t i = 0; i < n; ++i) q[i + j * n] -= d * q[i + l * n];
      }
      double norm = 0;
      for (size_t i = 0; i < n; ++i) norm += q[i + j * n] * q[i + j * n];
      norm = std::sqrt(norm);
      for (size_t i = 0; i < n; ++i) q[i + j * n] /= norm;
    }
  std::vector<double> a(n * n, 0.0);
  for (size_t l = 0; l < n; ++l)
    for (size_t j = 0; j < n; ++j)
      for (size_t i = 0; i < n; ++i) a[i + j * n] += q[i + l * n] * lambda[l] * q[j + l * n];
  for (size_t j = 0; j < n; ++j)
    for (size_t i = j + 1; i < n; ++i) a[j + i * n] = a[i + j * n];
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Result {
  double seconds = 0;
  std::vector<double> values, vectors;
};

// Times `solve` (which overwrites d_a with the vectors and writes d_w) on
// copies of `a`.
Result timed(cudaStream_t stream, const std::vector<double>& a, double* d_a, double* d_w,
             const std::function<void()>& solve) {
  const size_t n = size_t(std::sqrt(double(a.size())));
  std::vector<double> seconds;
  for (int rep = 0; rep < 21; ++rep) {
    CK(cudaMemcpyAsync(d_a, a.data(), a.size() * sizeof(double), cudaMemcpyHostToDevice, stream));
    CK(cudaStreamSynchronize(stream));
    const auto t0 = Clock::now();
    solve();
    CK(cudaStreamSynchronize(stream));
    if (rep > 0) seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  Result r;
  r.seconds = median(seconds);
  r.values.resize(n);
  r.vectors.resize(n * n);
  CK(cudaMemcpy(r.values.data(), d_w, n * sizeof(double), cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(r.vectors.data(), d_a, n * n * sizeof(double), cudaMemcpyDeviceToHost));
  return r;
}

// max_j ||A v_j - w_j v_j|| / max |w|
double residual(const std::vector<double>& a, const Result& r) {
  const size_t n = r.values.size();
  double worst = 0, top = 0;
  for (double w : r.values) top = std::max(top, std::fabs(w));
  for (size_t j = 0; j < n; ++j) {
    double r2 = 0;
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (size_t l = 0; l < n; ++l) s += a[i + l * n] * r.vectors[l + j * n];
      s -= r.values[j] * r.vectors[i + j * n];
      r2 += s * s;
    }
    worst = std::max(worst, std::sqrt(r2));
  }
  return worst / top;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {64, 100, 130, 160, 192};
  if (argc > 1) {
    sizes.clear();
    std::stringstream ss(argv[1]);
    std::string item;
    while (std::getline(ss, item, ',')) sizes.push_back(std::atoi(item.c_str()));
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("%s\n", prop.name);
  cudaStream_t stream;
  CK(cudaStreamCreate(&stream));
  cusolverDnHandle_t h;
  CK(cusolverDnCreate(&h));
  CK(cusolverDnSetStream(h, stream));
  cusolverDnParams_t params;
  CK(cusolverDnCreateParams(&params));
  syevjInfo_t jinfo;
  CK(cusolverDnCreateSyevjInfo(&jinfo));
  std::mt19937_64 rng(7);
  std::printf("%-16s %5s %-10s %10s %12s %12s\n", "matrix", "n", "routine", "ms", "max|dw|/|w|", "residual");
  for (int n : sizes) {
    std::vector<double> lambda(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) lambda[size_t(i)] = i < 20 ? 60.0 * std::pow(0.025, i / 19.0) : 1.1 - 1e-3 * i;
    std::vector<std::pair<std::string, std::vector<double>>> matrices;
    matrices.push_back({"random", with_spectrum(rng, lambda)});
    std::vector<double> near(size_t(n) * n, 0.0);
    std::normal_distribution<double> normal;
    for (int j = 0; j < n; ++j) {
      near[size_t(j) * n + j] = lambda[size_t(j)];
      for (int i = j + 1; i < n; ++i)
        near[size_t(i) + size_t(j) * n] = near[size_t(j) + size_t(i) * n] = 1e-6 * normal(rng);
    }
    matrices.push_back({"nearly diagonal", near});
    double *d_a, *d_w, *d_work;
    int* d_info;
    CK(cudaMalloc(&d_a, size_t(n) * n * sizeof(double)));
    CK(cudaMalloc(&d_w, size_t(n) * sizeof(double)));
    CK(cudaMalloc(&d_info, sizeof(int)));
    int lwork_syevd = 0, lwork_syevj = 0;
    CK(cusolverDnDsyevd_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n, d_a, n, d_w,
                                   &lwork_syevd));
    CK(cusolverDnDsyevj_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n, d_a, n, d_w,
                                   &lwork_syevj, jinfo));
    size_t dev_x = 0, host_x = 0, dev_b = 0, host_b = 0;
    CK(cusolverDnXsyevd_bufferSize(h, params, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n,
                                   CUDA_R_64F, d_a, n, CUDA_R_64F, d_w, CUDA_R_64F, &dev_x, &host_x));
    CK(cusolverDnXsyevBatched_bufferSize(h, params, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n,
                                         CUDA_R_64F, d_a, n, CUDA_R_64F, d_w, CUDA_R_64F, &dev_b, &host_b,
                                         1));
    const size_t work_bytes = std::max({size_t(lwork_syevd) * 8, size_t(lwork_syevj) * 8, dev_x, dev_b, size_t(8)});
    CK(cudaMalloc(&d_work, work_bytes));
    std::vector<char> host_work(std::max({host_x, host_b, size_t(1)}));
    for (auto& [name, a] : matrices) {
      std::vector<std::pair<std::string, std::function<void()>>> routines = {
          {"Dsyevd", [&] {
             CK(cusolverDnDsyevd(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n, d_a, n, d_w,
                                 d_work, lwork_syevd, d_info));
           }},
          {"Xsyevd", [&] {
             CK(cusolverDnXsyevd(h, params, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n,
                                 CUDA_R_64F, d_a, n, CUDA_R_64F, d_w, CUDA_R_64F, d_work, dev_x,
                                 host_work.data(), host_x, d_info));
           }},
          {"XsyevBatch1", [&] {
             CK(cusolverDnXsyevBatched(h, params, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n,
                                       CUDA_R_64F, d_a, n, CUDA_R_64F, d_w, CUDA_R_64F, d_work, dev_b,
                                       host_work.data(), host_b, d_info, 1));
           }},
          {"Dsyevj", [&] {
             CK(cusolverDnDsyevj(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n, d_a, n, d_w,
                                 d_work, lwork_syevj, d_info, jinfo));
           }},
      };
      std::vector<double> ref;
      for (auto& [routine, solve] : routines) {
        Result r = timed(stream, a, d_a, d_w, solve);
        int info = 0;
        CK(cudaMemcpy(&info, d_info, sizeof(int), cudaMemcpyDeviceToHost));
        if (ref.empty()) ref = r.values;
        double dw = 0, top = 0;
        for (int i = 0; i < n; ++i) {
          dw = std::max(dw, std::fabs(r.values[size_t(i)] - ref[size_t(i)]));
          top = std::max(top, std::fabs(ref[size_t(i)]));
        }
        std::printf("%-16s %5d %-10s %10.4f %12.2e %12.2e%s\n", name.c_str(), n, routine.c_str(),
                    1e3 * r.seconds, dw / top, residual(a, r), info ? "  (info != 0)" : "");
      }
    }
    cudaFree(d_a);
    cudaFree(d_w);
    cudaFree(d_work);
    cudaFree(d_info);
  }
  return 0;
}
