// The small symmetric eigenproblem of chefsi's Rayleigh-Ritz step (p x p,
// p = 128 at k = 100), on the GPU by each of cuSOLVER's routines that could
// take it, and by a one-block Jacobi prototype (n <= 128): how long one call
// takes (median of 20 after a warm-up, the stream synchronised as chefsi
// does), and how far each answer is from syevd's.
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

// A prototype (session 22): two-sided cyclic Jacobi in one thread block of
// 1024, for n <= 128. A's lower triangle (packed) and V in shared memory
// (193 KiB at n = 128); each round rotates n/2 disjoint pairs (the circle
// method), the rotations and the round's pairs (into shared memory) by n/2
// threads, then every 2 x 2 block between two pairs (on a square grid) and
// every row of V by all threads: two barriers a round, n - 1 rounds a sweep,
// until the off-diagonal's norm is under 1e-15 of the whole's. One launch,
// where syevd makes many. Eigenvalues ascending into w, vectors
// (column-major) over a; sweeps into *sweeps. Measured (H200, session 22):
// as accurate as syevd (1e-15), but at n = 128 6.0 ms on the random matrix
// (10 sweeps, ~4.7 us a round) and 1.2 ms on the nearly diagonal one (2
// sweeps), against syevd's 1.6 and 1.6 (a first version that found its
// pairs and blocks arithmetically: 8.8 and 1.8 ms on an H100). A round's
// 2 x 2 blocks sit at scattered places of the packed triangle, so their
// loads and stores meet many times in the same banks; a round would have to
// take under ~1 us to win (BENCHMARKS.md, session 22).
constexpr int kJacobiMaxN = 128;
__device__ __forceinline__ int packed(int i, int j) {  // i >= j
  return i * (i + 1) / 2 + j;
}
__device__ __forceinline__ int packed_any(int i, int j) { return i >= j ? packed(i, j) : packed(j, i); }
// The sum of the squares of the symmetric m x m matrix in `ap` (packed lower
// triangle), its diagonal's with `diagonal`; the whole block calls it.
__device__ double squares(const double* ap, int m, bool diagonal, double* sums) {
  const int tid = threadIdx.x, nt = blockDim.x;
  double local = 0;
  for (int idx = tid; idx < m * (m + 1) / 2; idx += nt) {
    const int i = int((sqrt(8.0 * idx + 1.0) - 1.0) / 2.0);
    const bool on = idx == packed(i, i);
    if (diagonal || !on) local += (on ? 1.0 : 2.0) * ap[idx] * ap[idx];
  }
  for (int o = 16; o > 0; o >>= 1) local += __shfl_down_sync(0xffffffffu, local, o);
  if ((tid & 31) == 0) sums[tid >> 5] = local;
  __syncthreads();
  double total = 0;
  for (int i = 0; i < nt / 32; ++i) total += sums[i];
  __syncthreads();  // sums is reused by the next call
  return total;
}
// Round r's pair k of the circle method over m players (m even): player m - 1
// stays, the others turn.
__device__ __forceinline__ void round_pair(int m, int r, int k, int& p, int& q) {
  int x, y;
  if (k == 0) {
    x = m - 1;
    y = r;
  } else {
    x = (r + k) % (m - 1);
    y = (r - k + (m - 1)) % (m - 1);
  }
  p = min(x, y);
  q = max(x, y);
}
__global__ void __launch_bounds__(1024, 1)
jacobi_one_block(int n, double* a, double* w, int max_sweeps, int* sweeps) {
  extern __shared__ double jacobi_shared[];
  __shared__ double c_of[kJacobiMaxN / 2], s_of[kJacobiMaxN / 2];
  __shared__ int p_of[kJacobiMaxN / 2], q_of[kJacobiMaxN / 2];
  __shared__ double sums[32];
  const int m = n + (n & 1);
  double* ap = jacobi_shared;                // m (m + 1) / 2
  double* v = ap + m * (m + 1) / 2;         // m x m, column-major
  const int tid = threadIdx.x, nt = blockDim.x;
  for (int idx = tid; idx < m * m; idx += nt) {
    const int i = idx % m, j = idx / m;
    v[idx] = i == j ? 1.0 : 0.0;
    if (i >= j) ap[packed(i, j)] = i < n && j < n ? a[i + size_t(j) * n] : 0.0;
  }
  __syncthreads();
  // ||A||_F^2 for the stopping test
  const double whole = squares(ap, m, true, sums);
  const int half = m / 2;
  int sweep = 0;
  for (; sweep < max_sweeps; ++sweep) {
    for (int r = 0; r < m - 1; ++r) {
      if (tid < half) {  // the rotation of pair tid, and its 2 x 2 diagonal block
        int p, q;
        round_pair(m, r, tid, p, q);
        const double apq = ap[packed(q, p)];
        double c = 1.0, s = 0.0;
        if (apq != 0.0) {
          const double app = ap[packed(p, p)], aqq = ap[packed(q, q)];
          const double tau = (aqq - app) / (2.0 * apq);
          const double t = (tau >= 0 ? 1.0 : -1.0) / (fabs(tau) + sqrt(1.0 + tau * tau));
          c = 1.0 / sqrt(1.0 + t * t);
          s = t * c;
          ap[packed(p, p)] = app - t * apq;
          ap[packed(q, q)] = aqq + t * apq;
          ap[packed(q, p)] = 0.0;
        }
        c_of[tid] = c;
        s_of[tid] = s;
        p_of[tid] = p;
        q_of[tid] = q;
      }
      __syncthreads();
      {  // off-diagonal 2 x 2 blocks between pairs k1 > k2: B <- J1^T B J2
        for (int idx = tid; idx < half * half; idx += nt) {
          const int k1 = idx / half, k2 = idx - k1 * half;
          if (k2 >= k1) continue;
          const int p1 = p_of[k1], q1 = q_of[k1], p2 = p_of[k2], q2 = q_of[k2];
          const double c1 = c_of[k1], s1 = s_of[k1], c2 = c_of[k2], s2 = s_of[k2];
          const int i11 = packed_any(p1, p2), i12 = packed_any(p1, q2), i21 = packed_any(q1, p2),
                    i22 = packed_any(q1, q2);
          const double b11 = ap[i11], b12 = ap[i12], b21 = ap[i21], b22 = ap[i22];
          const double r11 = c1 * b11 - s1 * b21, r12 = c1 * b12 - s1 * b22;
          const double r21 = s1 * b11 + c1 * b21, r22 = s1 * b12 + c1 * b22;
          ap[i11] = c2 * r11 - s2 * r12;
          ap[i12] = s2 * r11 + c2 * r12;
          ap[i21] = c2 * r21 - s2 * r22;
          ap[i22] = s2 * r21 + c2 * r22;
        }
        for (int idx = tid; idx < m * half; idx += nt) {  // V <- V J, row by row
          const int k = idx / m, i = idx - k * m;
          const int p = p_of[k], q = q_of[k];
          const double c = c_of[k], s = s_of[k];
          const double vp = v[i + p * m], vq = v[i + q * m];
          v[i + p * m] = c * vp - s * vq;
          v[i + q * m] = s * vp + c * vq;
        }
        __syncthreads();
      }
    }
    if (squares(ap, m, false, sums) <= 1e-30 * whole) {
      ++sweep;
      break;
    }
  }
  // ascending: each eigenvalue's rank by counting (ties by index)
  for (int i = tid; i < n; i += nt) {
    const double x = ap[packed(i, i)];
    int rank = 0;
    for (int j = 0; j < n; ++j) {
      const double y = ap[packed(j, j)];
      rank += y < x || (y == x && j < i);
    }
    w[rank] = x;
    for (int row = 0; row < n; ++row) a[row + size_t(rank) * n] = v[row + i * m];
  }
  if (tid == 0) *sweeps = sweep;
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
          {"Jacobi block", [&] {
             if (n > kJacobiMaxN) return;
             const int m = n + (n & 1);
             const size_t shared = size_t(m) * (m + 1) / 2 * 8 + size_t(m) * m * 8;
             CK(cudaFuncSetAttribute(jacobi_one_block,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)));
             jacobi_one_block<<<1, 1024, shared, stream>>>(n, d_a, d_w, 30, d_info);
             CK(cudaGetLastError());
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
        const bool jacobi = routine.rfind("Jacobi", 0) == 0;
        std::printf("%-16s %5d %-10s %10.4f %12.2e %12.2e%s%s\n", name.c_str(), n, routine.c_str(),
                    1e3 * r.seconds, dw / top, residual(a, r),
                    jacobi ? ("  sweeps " + std::to_string(info)).c_str() : "",
                    !jacobi && info ? "  (info != 0)" : "");
      }
    }
    cudaFree(d_a);
    cudaFree(d_w);
    cudaFree(d_work);
    cudaFree(d_info);
  }
  return 0;
}
