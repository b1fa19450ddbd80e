// top_eigen: the k largest eigenpairs of a symmetric matrix on the GPU:
// Chebyshev-filtered subspace iteration (chefsi_on_device.h) for large n and
// k small next to it, checked on the matrix; else, or when it does not
// converge, cuSOLVER's syevdx (only the requested eigenvalues are computed, in
// float64, after a full tridiagonal reduction). Block Lanczos
// (lanczos_on_device.h) only when asked for.
#include <cusolverDn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "../core/eigen_order.h"
#include "../core/errors.h"
#include "chefsi_on_device.h"
#include "cuda_check.h"
#include "cusolver_handles.h"
#include "device_context.h"
#include "lanczos_on_device.h"
#include "pipeline_device.h"

namespace cellshard {

namespace {

enum class EigenMethod { Syevdx, Lanczos, Chefsi };

// syevdx's full tridiagonal reduction costs O(n^3) at memory speed. Block
// Lanczos gives up on single-cell spectra at 5,000 genes (the pairs past the
// 18th lie in a flat noise bulk). Chebyshev-filtered subspace iteration needs
// about 3.3 n products with the matrix there, as GEMMs at the float64 rate:
// measured on an H100 with k = 100 (bench/eigen_methods.cu, a single-cell
// spectrum), 0.018 s against syevdx's 0.028 s at 2,000 genes, 0.024 / 0.062 at
// 3,000, 0.045 / 0.205 at 5,000, 0.081 / 0.576 at 8,000; on the seed
// pipeline's matrix at 5,000 genes 0.055 s against 0.209 s (bench/pca_methods.R).
// CELLSHARD_EIGEN_METHOD=syevdx | lanczos | chefsi forces one (benchmarks,
// tests; the iterative ones still fall back to syevdx when they do not converge).
EigenMethod first_method(int64_t n, int k) {
  if (const char* force = std::getenv("CELLSHARD_EIGEN_METHOD")) {
    if (std::strcmp(force, "syevdx") == 0) return EigenMethod::Syevdx;
    if (std::strcmp(force, "lanczos") == 0) return EigenMethod::Lanczos;
    if (std::strcmp(force, "chefsi") == 0) return EigenMethod::Chefsi;
  }
  return n >= 2000 && int64_t(k) * 4 <= n ? EigenMethod::Chefsi : EigenMethod::Syevdx;
}

// The solver's options; CELLSHARD_CHEFSI_TOLERANCE (a number) replaces the
// locking tolerance and CELLSHARD_CHEFSI_BLOCK (a count) the block size
// (benchmarks: bench/pca_methods.R's sweeps), CELLSHARD_CHEFSI_LOW the
// filter's lower end of the spectrum (bench/chefsi_bounds.R),
// CELLSHARD_CHEFSI_MAX_DEGREE the filter's highest degree a sweep and
// CELLSHARD_CHEFSI_MAX_RATIO its growth limit (bench/chefsi_simulate.R's
// settings), CELLSHARD_CHEFSI_VALUE_TOLERANCE the bulk pairs' locking (0: by
// the residual alone), CELLSHARD_CHEFSI_DEFLATED the lowest degree at which a
// sweep filters with the deflated matrix written out (0: never); with
// CELLSHARD_CHEFSI_PROFILE set, the phases are timed (last_chefsi_report).
ChefsiOptions chefsi_options() {
  ChefsiOptions options;
  options.profile = std::getenv("CELLSHARD_CHEFSI_PROFILE") != nullptr;
  if (const char* tolerance = std::getenv("CELLSHARD_CHEFSI_TOLERANCE")) {
    const double t = std::atof(tolerance);
    if (t > 0 && t < 1) options.tolerance = t;
  }
  if (const char* block = std::getenv("CELLSHARD_CHEFSI_BLOCK")) {
    const int p = std::atoi(block);
    if (p > 0) options.block = p;
  }
  if (const char* low = std::getenv("CELLSHARD_CHEFSI_LOW")) options.filter.low = std::atof(low);
  if (const char* degree = std::getenv("CELLSHARD_CHEFSI_MAX_DEGREE")) {
    const int d = std::atoi(degree);
    if (d >= options.filter.min_degree) options.filter.max_degree = d;
  }
  if (const char* value = std::getenv("CELLSHARD_CHEFSI_VALUE_TOLERANCE")) {
    const double t = std::atof(value);
    if (t >= 0 && t < 1) options.value_tolerance = t;
  }
  if (const char* deflated = std::getenv("CELLSHARD_CHEFSI_DEFLATED")) {
    const int d = std::atoi(deflated);
    if (d >= 0) options.deflated_min_degree = d;
  }
  if (const char* ratio = std::getenv("CELLSHARD_CHEFSI_MAX_RATIO")) {
    const double r = std::atof(ratio);
    if (r > 1) options.filter.max_ratio = r;
  }
  return options;
}

std::mutex last_report_mutex;
ChefsiReport last_report;

}  // namespace

ChefsiReport last_chefsi_report() {
  std::lock_guard<std::mutex> lock(last_report_mutex);
  return last_report;
}

void top_eigen_on_device(int device, double* a, int64_t n, int k, double* values,
                         double* vectors) {
  CS_CHECK(n >= 1 && k >= 1 && k <= n, "internal: eigenpairs out of range");
  const EigenMethod method = first_method(n, k);
  if (method == EigenMethod::Lanczos) {
    LanczosOptions options;
    options.block = 16;  // the CPU backend's: a smaller basis than 32 for single-cell spectra
    if (lanczos_top_eigen_on_device(use_device(device), a, n, k, values, vectors, options).converged)
      return;
  }
  if (method == EigenMethod::Chefsi) {
    const ChefsiReport report =
        chefsi_top_eigen_on_device(use_device(device), a, n, k, values, vectors, chefsi_options());
    {
      std::lock_guard<std::mutex> lock(last_report_mutex);
      last_report = report;
    }
    if (report.converged) return;
  }
  syevdx_top_eigen(device, a, n, k, values, vectors);
}

void syevdx_top_eigen(int device, double* a, int64_t n, int k, double* values, double* vectors) {
  CS_CHECK(n >= 1 && k >= 1 && k <= n, "internal: eigenpairs out of range");
  const DeviceContext& ctx = use_device(device);
  SolverSlot& slot = solver_slot(device);
  std::lock_guard<std::mutex> lock(slot.mutex);
  ready(slot, ctx.stream);

  BufferPtr w = make_buffer(device, size_t(n) * sizeof(double));
  double unused = 0.0;
  int64_t found = 0;
  size_t device_bytes = 0, host_bytes = 0;
  const int64_t il = n - k + 1, iu = n;  // 1-based: the k largest
  check_cusolver(cusolverDnXsyevdx_bufferSize(
                     slot.handle, slot.params, CUSOLVER_EIG_MODE_VECTOR, CUSOLVER_EIG_RANGE_I,
                     CUBLAS_FILL_MODE_LOWER, n, CUDA_R_64F, a, n, &unused, &unused, il, iu, &found,
                     CUDA_R_64F, w->data(), CUDA_R_64F, &device_bytes, &host_bytes),
                 "cusolverDnXsyevdx_bufferSize");
  BufferPtr work = make_buffer(device, std::max<size_t>(device_bytes, 1));
  BufferPtr info = make_buffer(device, sizeof(int));
  std::vector<char> host_work(std::max<size_t>(host_bytes, 1));
  check_cusolver(cusolverDnXsyevdx(slot.handle, slot.params, CUSOLVER_EIG_MODE_VECTOR,
                                   CUSOLVER_EIG_RANGE_I, CUBLAS_FILL_MODE_LOWER, n, CUDA_R_64F, a,
                                   n, &unused, &unused, il, iu, &found, CUDA_R_64F, w->data(),
                                   CUDA_R_64F, work->data(), device_bytes, host_work.data(),
                                   host_bytes, info->as<int>()),
                 "cusolverDnXsyevdx");
  int status = 0;
  std::vector<double> w_host(static_cast<size_t>(k)), z(static_cast<size_t>(n) * size_t(k));
  CS_CUDA_CHECK(cudaMemcpyAsync(&status, info->data(), sizeof(int), cudaMemcpyDeviceToHost,
                                ctx.stream));
  // The found eigenvectors are the first `found` columns of a, ascending.
  CS_CUDA_CHECK(cudaMemcpyAsync(w_host.data(), w->data(), size_t(k) * sizeof(double),
                                cudaMemcpyDeviceToHost, ctx.stream));
  CS_CUDA_CHECK(cudaMemcpyAsync(z.data(), a, z.size() * sizeof(double), cudaMemcpyDeviceToHost,
                                ctx.stream));
  synchronize(ctx);
  if (status != 0 || found != k)
    throw Error("the eigendecomposition for PCA did not converge (cuSOLVER syevdx info " +
                std::to_string(status) + ")");
  eigenpairs_decreasing(w_host.data(), z.data(), n, k, values, vectors);
}

}  // namespace cellshard
