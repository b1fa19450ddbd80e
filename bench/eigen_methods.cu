// PCA's eigensolvers on the GPU (issue 8): cuSOLVER's syevdx against
// Chebyshev-filtered subspace iteration (chefsi) and block Lanczos, forced
// with CELLSHARD_EIGEN_METHOD, on dense symmetric Q diag(lambda) Q^T (Q a
// random orthogonal matrix made on the device) with the eigenvalues of a
// single-cell PCA (20 separated ones from 60 down to 1.5, then a flat
// Marchenko-Pastur-like bulk below 1.12) or a geometric decay. Prints the
// seconds of each (median of repeats, vectors on the host as the pipeline
// gets them), the largest eigenvalue error against the constructed spectrum
// (relative to lambda_1), the smallest |cosine| with the exact vectors and
// with syevdx's on pairs separated from their neighbours by more than 1%
// (SPEC.md's fidelity bar), chefsi's sweeps and products with A (in units of
// n), whether its repeats gave the same bits, and the float64 GEMM rate and
// the p x p syevd that bound it.
//
// Build (repository root, objects as tools/gpu-check.sh makes them):
//   nvcc $NVFLAGS -o /tmp/eigen_methods bench/eigen_methods.cu $OBJ/*.o -lcusolver -lcublas \
//     -lnccl -lcudart $R_LAPACK -lpthread
//   /tmp/eigen_methods [k] [n ...]          (defaults: 100; 5000 2000 3000 8000)
#include <cublas_v2.h>
#include <cusolverDn.h>

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
#include "../src/cuda/chefsi_on_device.h"
#include "../src/cuda/cuda_backend.h"
#include "../src/cuda/cuda_pipeline_kernels.h"
#include "../src/cuda/device_context.h"

using namespace cellshard;

namespace {

void ok(bool good, const char* what) {
  if (!good) throw Error(std::string("bench: ") + what + " failed");
}

double seconds_of(const std::function<void()>& f) {
  ok(cudaDeviceSynchronize() == cudaSuccess, "sync");
  const auto t0 = std::chrono::steady_clock::now();
  f();
  ok(cudaDeviceSynchronize() == cudaSuccess, "sync");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

double single_cell_eigenvalue(int64_t i, int64_t n) {  // as in tests/cuda/test_pipeline_kernels.cu
  if (i < 20) return 60.0 * std::pow(1.5 / 60.0, double(i) / 19.0);
  return 1.12 - 0.485 * std::pow((double(i - 20) + 0.5) / double(n - 20), 2.0 / 3.0);
}

struct Handles {
  cublasHandle_t blas;
  cusolverDnHandle_t solver;
};

// Q diag(lambda) Q^T (exactly symmetric) into g, and Q's first k columns
// (the exact eigenvectors of lambda[0..k)) into `exact` (host).
void make_matrix(Handles& h, const std::vector<double>& lambda, int k, Buffer& g,
                 std::vector<double>& exact) {
  const int n = int(lambda.size());
  const size_t nn = size_t(n) * size_t(n);
  std::vector<double> host(nn);
  std::mt19937_64 rng(uint64_t(n) * 7919u);
  std::normal_distribution<double> normal;
  for (double& x : host) x = normal(rng);
  BufferPtr q = make_buffer(0, nn * sizeof(double)), b = make_buffer(0, nn * sizeof(double));
  BufferPtr tau = make_buffer(0, size_t(n) * sizeof(double)), info = make_buffer(0, sizeof(int));
  BufferPtr lam = make_buffer(0, size_t(n) * sizeof(double));
  q->upload(host.data(), nn * sizeof(double));
  lam->upload(lambda.data(), size_t(n) * sizeof(double));
  int lwork = 0, lwork2 = 0;
  ok(cusolverDnDgeqrf_bufferSize(h.solver, n, n, q->as<double>(), n, &lwork) == 0, "geqrf size");
  ok(cusolverDnDorgqr_bufferSize(h.solver, n, n, n, q->as<double>(), n, tau->as<double>(),
                                 &lwork2) == 0, "orgqr size");
  BufferPtr work = make_buffer(0, size_t(std::max(lwork, lwork2)) * sizeof(double));
  ok(cusolverDnDgeqrf(h.solver, n, n, q->as<double>(), n, tau->as<double>(), work->as<double>(),
                      lwork, info->as<int>()) == 0, "geqrf");
  ok(cusolverDnDorgqr(h.solver, n, n, n, q->as<double>(), n, tau->as<double>(),
                      work->as<double>(), std::max(lwork, lwork2), info->as<int>()) == 0, "orgqr");
  ok(cublasDdgmm(h.blas, CUBLAS_SIDE_RIGHT, n, n, q->as<double>(), n, lam->as<double>(), 1,
                 b->as<double>(), n) == 0, "dgmm");
  const double one = 1.0, zero = 0.0, half = 0.5;
  // (Q diag) Q^T into g, then (g + g^T) / 2 into b and back
  ok(cublasDgemm(h.blas, CUBLAS_OP_N, CUBLAS_OP_T, n, n, n, &one, b->as<double>(), n,
                 q->as<double>(), n, &zero, g.as<double>(), n) == 0, "gemm");
  ok(cublasDgeam(h.blas, CUBLAS_OP_N, CUBLAS_OP_T, n, n, &half, g.as<double>(), n, &half,
                 g.as<double>(), n, b->as<double>(), n) == 0, "geam");
  ok(cudaMemcpy(g.data(), b->data(), nn * sizeof(double), cudaMemcpyDeviceToDevice) == cudaSuccess,
     "copy");
  exact.resize(size_t(n) * size_t(k));
  q->download(exact.data(), exact.size() * sizeof(double));
}

struct Answer {
  std::vector<double> values, vectors;
  double seconds = 0;
};

// Median seconds of `reps` solves on fresh copies of g.
Answer solve(int n, int k, Buffer& g, Buffer& work, int reps,
             const std::function<void(double*, double*, double*)>& method) {
  Answer a;
  a.values.resize(size_t(k));
  a.vectors.resize(size_t(n) * size_t(k));
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    ok(cudaMemcpy(work.data(), g.data(), g.bytes(), cudaMemcpyDeviceToDevice) == cudaSuccess, "copy");
    times.push_back(seconds_of([&] { method(work.as<double>(), a.values.data(), a.vectors.data()); }));
  }
  a.seconds = median(times);
  return a;
}

// Largest |value - lambda| / lambda_1, and the smallest |cos| with `ref`
// over pairs separated from their neighbours by more than 1%.
void compare(const Answer& a, const std::vector<double>& lambda, int k,
             const std::vector<double>& ref, double& value_error, double& min_cos) {
  const size_t n = lambda.size();
  value_error = 0;
  min_cos = 1;
  for (int i = 0; i < k; ++i) {
    value_error = std::max(value_error, std::fabs(a.values[size_t(i)] - lambda[size_t(i)]) / lambda[0]);
    const double gap = std::min(i > 0 ? lambda[size_t(i - 1)] - lambda[size_t(i)] : INFINITY,
                                i + 1 < k ? lambda[size_t(i)] - lambda[size_t(i + 1)] : INFINITY);
    if (!(gap > 0.01 * lambda[size_t(i)])) continue;
    double dot = 0;
    for (size_t r = 0; r < n; ++r) dot += a.vectors[size_t(i) * n + r] * ref[size_t(i) * n + r];
    min_cos = std::min(min_cos, std::fabs(dot));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int k = argc > 1 ? std::atoi(argv[1]) : 100;
  std::vector<int> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {5000, 2000, 3000, 8000};
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::printf("%s\n", cuda_device_description(0).c_str());
  const DeviceContext& ctx = use_device(0);
  Handles h;
  ok(cublasCreate(&h.blas) == 0 && cusolverDnCreate(&h.solver) == 0, "handles");
  PipelineKernels& gpu = cuda_pipeline_kernels();
  const int p = chefsi_default_block(k);
  {  // the two rates that bound chefsi: an n x n x p GEMM, a p x p syevd
    const int n = sizes[0];
    BufferPtr a = make_buffer(0, size_t(n) * n * sizeof(double));
    BufferPtr x = make_buffer(0, size_t(n) * 256 * sizeof(double));
    BufferPtr y = make_buffer(0, size_t(n) * 256 * sizeof(double));
    std::vector<double> host(size_t(n) * n);
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> unit(-1, 1);
    for (double& v : host) v = unit(rng);
    a->upload(host.data(), a->bytes());
    x->upload(host.data(), x->bytes());
    const double one = 1.0, zero = 0.0;
    for (int cols : {64, 96, 128, 160, 192, 256}) {
      if (cols > n) continue;
      const auto gemm = [&] {
        for (int r = 0; r < 10; ++r)
          ok(cublasDgemm(h.blas, CUBLAS_OP_N, CUBLAS_OP_N, n, cols, n, &one, a->as<double>(), n,
                         x->as<double>(), n, &zero, y->as<double>(), n) == 0, "gemm");
      };
      gemm();
      const double s = seconds_of(gemm) / 10;
      std::printf("GEMM %d x %d x %d: %.3f ms, %.1f TFLOP/s\n", n, n, cols, 1e3 * s,
                  2.0 * n * n * cols / s / 1e12);
    }
    std::vector<double> sym(size_t(p) * p);
    for (int j = 0; j < p; ++j)
      for (int i = 0; i < p; ++i) sym[size_t(i) + size_t(j) * p] = host[size_t(std::min(i, j)) * p + size_t(std::max(i, j))];
    BufferPtr hm = make_buffer(0, sym.size() * sizeof(double)), w = make_buffer(0, p * sizeof(double));
    BufferPtr info = make_buffer(0, sizeof(int));
    int lwork = 0;
    ok(cusolverDnDsyevd_bufferSize(h.solver, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, p,
                                   hm->as<double>(), p, w->as<double>(), &lwork) == 0, "syevd size");
    BufferPtr work = make_buffer(0, size_t(lwork) * sizeof(double));
    syevjInfo_t jinfo;
    ok(cusolverDnCreateSyevjInfo(&jinfo) == 0, "syevj info");
    int jwork = 0;
    ok(cusolverDnDsyevj_bufferSize(h.solver, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, p,
                                   hm->as<double>(), p, w->as<double>(), &jwork, jinfo) == 0,
       "syevj size");
    BufferPtr jw = make_buffer(0, size_t(jwork) * sizeof(double));
    for (int jacobi = 0; jacobi < 2; ++jacobi) {
      std::vector<double> t;
      for (int r = 0; r < 6; ++r) {
        hm->upload(sym.data(), hm->bytes());
        t.push_back(seconds_of([&] {
          if (jacobi)
            ok(cusolverDnDsyevj(h.solver, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, p,
                                hm->as<double>(), p, w->as<double>(), jw->as<double>(), jwork,
                                info->as<int>(), jinfo) == 0, "syevj");
          else
            ok(cusolverDnDsyevd(h.solver, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, p,
                                hm->as<double>(), p, w->as<double>(), work->as<double>(), lwork,
                                info->as<int>()) == 0, "syevd");
        }));
      }
      std::printf("%s %d x %d (Rayleigh-Ritz): %.3f ms\n", jacobi ? "syevj" : "syevd", p, p,
                  1e3 * median(t));
    }
  }
  (void)ctx;

  std::printf("\n%-12s %5s %4s %-8s %9s %12s %12s %12s %6s %9s %9s %5s\n", "spectrum", "n", "k",
              "method", "seconds", "max value", "min|cos|ex", "min|cos|sy", "sweeps", "products",
              "residual", "bits");
  for (size_t si = 0; si < sizes.size(); ++si) {
    const int n = sizes[si];
    for (int shape = 0; shape < (si == 0 ? 2 : 1); ++shape) {
      std::vector<double> lambda(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i)
        lambda[size_t(i)] = shape == 0 ? single_cell_eigenvalue(i, n) : 1.0 + 100.0 * std::pow(0.97, i);
      const char* name = shape == 0 ? "single-cell" : "decaying";
      BufferPtr g = make_buffer(0, size_t(n) * n * sizeof(double));
      BufferPtr work = make_buffer(0, g->bytes());
      std::vector<double> exact;
      make_matrix(h, lambda, k, *g, exact);
      const int slow_reps = n <= 5000 ? 3 : 1, fast_reps = 5;
      const auto top_eigen = [&](const char* method) {
        return [&gpu, n, k, method](double* a, double* values, double* vectors) {
          setenv("CELLSHARD_EIGEN_METHOD", method, 1);
          gpu.top_eigen(0, a, n, k, values, vectors);
          unsetenv("CELLSHARD_EIGEN_METHOD");
        };
      };
      solve(n, k, *g, *work, 1, top_eigen("syevdx"));  // warm-up
      Answer sy = solve(n, k, *g, *work, slow_reps, top_eigen("syevdx"));
      ChefsiReport report;
      std::vector<Answer> runs;
      for (int r = 0; r < fast_reps; ++r)
        runs.push_back(solve(n, k, *g, *work, 1, [&](double* a, double* values, double* vectors) {
          report = chefsi_top_eigen_on_device(ctx, a, n, k, values, vectors, ChefsiOptions());
        }));
      std::vector<double> times;
      bool same = true;
      for (const Answer& r : runs) {
        times.push_back(r.seconds);
        same = same && r.values == runs[0].values && r.vectors == runs[0].vectors;
      }
      Answer ch = runs[0];
      ch.seconds = median(times);
      Answer la = solve(n, k, *g, *work, 1, top_eigen("lanczos"));
      Answer au = solve(n, k, *g, *work, 1, top_eigen("auto"));
      const struct {
        const char* method;
        const Answer* answer;
      } rows[] = {{"syevdx", &sy}, {"chefsi", &ch}, {"lanczos", &la}, {"auto", &au}};
      for (const auto& row : rows) {
        double value_error, cos_exact, cos_syevdx;
        compare(*row.answer, lambda, k, sy.vectors, value_error, cos_syevdx);
        compare(*row.answer, lambda, k, exact, value_error, cos_exact);
        char sweeps[16] = "", products[16] = "", residual[16] = "", bits[8] = "";
        if (row.answer == &ch) {
          std::snprintf(sweeps, sizeof sweeps, "%d", report.sweeps);
          std::snprintf(products, sizeof products, "%.2f", double(report.products) / n);
          std::snprintf(residual, sizeof residual, "%.2e", report.max_residual);
          if (!report.converged) std::snprintf(residual, sizeof residual, "FAILED");
          std::snprintf(bits, sizeof bits, "%s", same ? "same" : "DIFF");
        }
        std::printf("%-12s %5d %4d %-8s %9.4f %12.3e %12.10f %12.10f %6s %9s %9s %5s\n", name, n,
                    k, row.method, row.answer->seconds, value_error, cos_exact, cos_syevdx, sweeps,
                    products, residual, bits);
      }
      if (si == 0 && shape == 0) {  // chefsi's variants and where its time goes
        struct Variant {
          std::string label;
          ChefsiOptions options;
        };
        std::vector<Variant> variants(5);
        variants[0].label = "default (p = " + std::to_string(p) + ", syevd)";
        variants[1].label = "syevj";
        variants[1].options.jacobi = true;
        variants[2].options.block = 160;
        variants[3].options.block = 192;
        variants[4].options.block = 224;
        for (int i = 2; i < 5; ++i)
          variants[size_t(i)].label = "p = " + std::to_string(variants[size_t(i)].options.block);
        for (Variant& variant : variants) {
          ChefsiOptions o = variant.options;
          Answer v;
          std::vector<double> t;
          for (int r = 0; r < fast_reps; ++r) {
            v = solve(n, k, *g, *work, 1, [&](double* a, double* values, double* vectors) {
              report = chefsi_top_eigen_on_device(ctx, a, n, k, values, vectors, o);
            });
            t.push_back(v.seconds);
          }
          o.profile = true;
          ChefsiReport timed;
          solve(n, k, *g, *work, 1, [&](double* a, double* values, double* vectors) {
            timed = chefsi_top_eigen_on_device(ctx, a, n, k, values, vectors, o);
          });
          double value_error, cos_exact;
          compare(v, lambda, k, exact, value_error, cos_exact);
          std::printf("  chefsi %s: %.4f s (%s, %d sweeps, %.2f n products, max value %.3e, "
                      "min|cos| %.10f); profiled: start %.4f filter %.4f orthonormalise %.4f "
                      "Rayleigh-Ritz %.4f finish %.4f\n",
                      variant.label.c_str(), median(t), report.converged ? "converged" : "FAILED",
                      report.sweeps, double(report.products) / n, value_error, cos_exact,
                      timed.seconds[0], timed.seconds[1], timed.seconds[2], timed.seconds[3],
                      timed.seconds[4]);
        }
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
