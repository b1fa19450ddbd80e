// Chebyshev-filtered subspace iteration on the GPU (see chefsi_on_device.h).
// The block X (n x pa, orthonormal Ritz vectors, ascending) and the locked
// pairs (V, n x L, and their values) live on the device. A sweep:
//   filter: X = p(A_d) X, the scaled Chebyshev recurrence (chebyshev_filter.h)
//     on A_d = A - V (Theta_L - c) V^T, which moves the locked pairs to the
//     middle of the damped interval (the filter leaves them alone, however
//     large they were: later sweeps can use high degrees). Each step is one
//     GEMM with A - c I (A's diagonal shifted in place for the sweep, then
//     put back from a copy) and the locked pairs' part apart, or, in long
//     sweeps, one GEMM with A_d written out as a second matrix
//     (write_deflated), written over the block two steps back, except
//     the first, which takes A X from the Rayleigh-Ritz step before it (the
//     first sweep from the random start block as it is: its Rayleigh
//     quotients bound the first filter, start_estimates);
//   X -= V V^T X twice, then Cholesky QR twice (columns scaled to unit
//     length first: the filter leaves them of very different lengths);
//   Rayleigh-Ritz: Y = A X, H = X^T Y (pa x pa, cuSOLVER syevd on the
//     device), X = X W, the residuals ||A x_j - theta_j x_j||;
//   the leading pairs whose residuals are small are locked (moved to V): to
//   tolerance x theta_1, or, for pairs within 1% of both neighbours (the
//   SPEC holds their eigenvalues, not their vectors), once their Ritz
//   values' estimated error is within value_tolerance (locking_residual).
// Everything is in float64 with the sweeps' choices made on the host from the
// Ritz values: the same matrix gives the same bits every run.
#include "chefsi_on_device.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <vector>

#include "../core/buffer.h"
#include "../core/errors.h"
#include "../core/memory_budget.h"
#include "../core/spec_locking.h"
#include "cublas_handles.h"
#include "cuda_check.h"
#include "cusolver_handles.h"
#include "device_memory.h"
#include "phase_clock.h"
#include "subspace_kernels.h"

namespace cellshard {

namespace {

// theta ascending, residual in the same order.
void sort_pairs(std::vector<double>& theta, std::vector<double>& residual) {
  std::vector<size_t> order(theta.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t i, size_t j) { return theta[i] < theta[j]; });
  std::vector<double> t(theta.size()), r(residual.size());
  for (size_t i = 0; i < order.size(); ++i) {
    t[i] = theta[order[i]];
    r[i] = residual[order[i]];
  }
  theta.swap(t);
  residual.swap(r);
}

class Subspace {
 public:
  Subspace(const DeviceContext& ctx, SolverSlot& solver, double* a, int64_t n, int p, int k,
           bool jacobi)
      : ctx_(ctx), blas_(ctx), solver_(solver), a_(a), n_(n), p_(p), k_(k),
        diagonal_(make_buffer(ctx.device, size_t(n) * sizeof(double))),
        v_(make_buffer(ctx.device, size_t(n) * size_t(k) * sizeof(double))),
        h_(make_buffer(ctx.device, size_t(p) * size_t(p) * sizeof(double))),
        t_(make_buffer(ctx.device, size_t(k) * size_t(p) * sizeof(double))),
        theta_(make_buffer(ctx.device, size_t(p) * sizeof(double))),
        small_(make_buffer(ctx.device, size_t(p) * sizeof(double))),
        shift_(make_buffer(ctx.device, size_t(k) * sizeof(double))),
        info_(make_buffer(ctx.device, sizeof(int))),
        columns_(make_buffer(ctx.device, size_t(p) * sizeof(int))) {
    for (BufferPtr& b : blocks_) b = make_buffer(ctx.device, size_t(n) * size_t(p) * sizeof(double));
    int potrf = 0, syevd = 0;
    check_cusolver(cusolverDnDpotrf_bufferSize(solver.handle, CUBLAS_FILL_MODE_UPPER, p, h(), p,
                                               &potrf),
                   "cusolverDnDpotrf_bufferSize");
    check_cusolver(cusolverDnDsyevd_bufferSize(solver.handle, CUSOLVER_EIG_MODE_VECTOR,
                                               CUBLAS_FILL_MODE_LOWER, p, h(), p,
                                               theta_->as<double>(), &syevd),
                   "cusolverDnDsyevd_bufferSize");
    if (jacobi) {
      check_cusolver(cusolverDnCreateSyevjInfo(&jacobi_), "cusolverDnCreateSyevjInfo");
      check_cusolver(cusolverDnDsyevj_bufferSize(solver.handle, CUSOLVER_EIG_MODE_VECTOR,
                                                 CUBLAS_FILL_MODE_LOWER, p, h(), p,
                                                 theta_->as<double>(), &syevd, jacobi_),
                     "cusolverDnDsyevj_bufferSize");
    }
    lwork_ = std::max(1, std::max(potrf, syevd));
    work_ = make_buffer(ctx.device, size_t(lwork_) * sizeof(double));
    CS_CUBLAS_CHECK(cublasDcopy_64(blas_.get(), n, a, n + 1, diagonal_->as<double>(), 1));
  }
  ~Subspace() {
    if (shifted_) {  // an error in a filter step: A as it came, if the GPU still can
      try {
        unshift_matrix();
      } catch (...) {
      }
    }
    if (jacobi_) cusolverDnDestroySyevjInfo(jacobi_);
  }
  Subspace(const Subspace&) = delete;
  Subspace& operator=(const Subspace&) = delete;

  double* block(int i) { return blocks_[size_t(i)]->as<double>(); }
  double* v() { return v_->as<double>(); }
  double* h() { return h_->as<double>(); }
  int64_t products = 0;

  // C = alpha op(X) op(Y) + beta C (column-major, cuBLAS's argument order).
  void gemm(cublasOperation_t tx, cublasOperation_t ty, int64_t rows, int64_t cols,
            int64_t inner, double alpha, const double* x, int64_t ldx, const double* y,
            int64_t ldy, double beta, double* c, int64_t ldc) {
    CS_CUBLAS_CHECK(cublasDgemm(blas_.get(), tx, ty, int(rows), int(cols), int(inner), &alpha, x,
                                int(ldx), y, int(ldy), &beta, c, int(ldc)));
  }

  // out = alpha M y + beta out (n x cols) for M = A (shifted while
  // shift_matrix holds) or A_d (write_deflated), counted.
  void multiply_by(const double* m, const double* y, int cols, double alpha, double beta,
                   double* out) {
    gemm(CUBLAS_OP_N, CUBLAS_OP_N, n_, cols, n_, alpha, m, n_, y, n_, beta, out, n_);
    products += cols;
  }
  void multiply(const double* y, int cols, double alpha, double beta, double* out) {
    multiply_by(a_, y, cols, alpha, beta, out);
  }

  template <class T>
  void download(const void* device, T* host, size_t count) {
    CS_CUDA_CHECK(cudaMemcpyAsync(host, device, count * sizeof(T), cudaMemcpyDeviceToHost,
                                  ctx_.stream));
    synchronize(ctx_);
  }
  template <class T>
  void upload(const std::vector<T>& host, Buffer& device) {
    CS_CUDA_CHECK(cudaMemcpyAsync(device.data(), host.data(), host.size() * sizeof(T),
                                  cudaMemcpyHostToDevice, ctx_.stream));
    synchronize(ctx_);  // host may change next
  }

  // x (n x pa) -= V V^T x, twice (classical Gram-Schmidt with reorthogonalisation).
  void project_out_locked(double* x, int pa, int locked) {
    if (locked == 0) return;
    double* t = t_->as<double>();
    for (int pass = 0; pass < 2; ++pass) {
      gemm(CUBLAS_OP_T, CUBLAS_OP_N, locked, pa, n_, 1.0, v(), n_, x, n_, 0.0, t, locked);
      gemm(CUBLAS_OP_N, CUBLAS_OP_N, n_, pa, locked, -1.0, v(), n_, t, locked, 1.0, x, n_);
    }
  }

  // Makes the columns of x (n x pa) orthonormal: Cholesky QR twice, the
  // first on columns scaled to unit length; when that Cholesky fails (the
  // block is too far from full rank for it), again with a shift of the
  // diagonal and a third pass (shifted Cholesky QR3). False when even that
  // fails.
  bool orthonormalize(double* x, int pa) {
    bool shifted = false;
    double* s = h();
    for (int pass = 0; pass < (shifted ? 3 : 2); ++pass) {
      gemm(CUBLAS_OP_T, CUBLAS_OP_N, pa, pa, n_, 1.0, x, n_, x, n_, 0.0, s, pa);
      if (pass == 0) {
        // The shift that makes Cholesky succeed for a numerically
        // rank-deficient block with unit columns (Fukaya et al., 2020).
        const double shift =
            shifted ? 11.0 * (double(n_) * pa + double(pa) * (pa + 1)) * 0x1.0p-53 * pa : 0.0;
        unit_diagonal(ctx_, s, pa, shift, small_->as<double>());
        scale_matrix(ctx_, x, n_, pa, n_, nullptr, small_->as<double>());
      }
      check_cusolver(cusolverDnDpotrf(solver_.handle, CUBLAS_FILL_MODE_UPPER, pa, s, pa,
                                      work_->as<double>(), lwork_, info_->as<int>()),
                     "cusolverDnDpotrf");
      int info = 0;
      download(info_->data(), &info, 1);
      if (info != 0) {
        if (pass > 0 || shifted) return false;
        shifted = true;
        pass = -1;
        continue;
      }
      const double one = 1.0;
      CS_CUBLAS_CHECK(cublasDtrsm(blas_.get(), CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER,
                                  CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, int(n_), pa, &one, s, pa, x,
                                  int(n_)));
    }
    return true;
  }

  // Rayleigh-Ritz on the orthonormal block in `x`: the Ritz vectors go to
  // block `out` (ascending values), their values and residual norms to the
  // host. Blocks `y` and `z` are scratch. False when syevd fails.
  bool rayleigh_ritz(int x, int y, int z, int out, int pa, std::vector<double>& theta,
                     std::vector<double>& residual) {
    multiply(block(x), pa, 1.0, 0.0, block(y));
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, pa, pa, n_, 1.0, block(x), n_, block(y), n_, 0.0, h(), pa);
    symmetrize(ctx_, h(), pa);
    if (jacobi_)
      check_cusolver(cusolverDnDsyevj(solver_.handle, CUSOLVER_EIG_MODE_VECTOR,
                                      CUBLAS_FILL_MODE_LOWER, pa, h(), pa, theta_->as<double>(),
                                      work_->as<double>(), lwork_, info_->as<int>(), jacobi_),
                     "cusolverDnDsyevj");
    else
      check_cusolver(cusolverDnDsyevd(solver_.handle, CUSOLVER_EIG_MODE_VECTOR,
                                      CUBLAS_FILL_MODE_LOWER, pa, h(), pa, theta_->as<double>(),
                                      work_->as<double>(), lwork_, info_->as<int>()),
                     "cusolverDnDsyevd");
    gemm(CUBLAS_OP_N, CUBLAS_OP_N, n_, pa, pa, 1.0, block(x), n_, h(), pa, 0.0, block(out), n_);
    gemm(CUBLAS_OP_N, CUBLAS_OP_N, n_, pa, pa, 1.0, block(y), n_, h(), pa, 0.0, block(z), n_);
    residual_norms(ctx_, block(out), block(z), theta_->as<double>(), n_, pa,
                   small_->as<double>());
    theta.resize(size_t(pa));
    residual.resize(size_t(pa));
    int info = 0;
    CS_CUDA_CHECK(cudaMemcpyAsync(theta.data(), theta_->data(), size_t(pa) * sizeof(double),
                                  cudaMemcpyDeviceToHost, ctx_.stream));
    CS_CUDA_CHECK(cudaMemcpyAsync(residual.data(), small_->data(), size_t(pa) * sizeof(double),
                                  cudaMemcpyDeviceToHost, ctx_.stream));
    download(info_->data(), &info, 1);
    return info == 0;
  }

  // The start block's Rayleigh quotients theta_i = x_i^T A x_i and residual
  // norms ||A x_i - theta_i x_i|| (block x orthonormal), with A x into block
  // z for the first filter step: the bounds the first filter needs, without
  // an eigensolver. A Rayleigh-Ritz step here (syevd and two rotations) took
  // ~1.4 ms; bench/chefsi_simulate.R with estimates=1 gives the same sweeps
  // and degrees, products within 0.5%, on the seed pipeline's spectrum and
  // the same products on a synthetic single-cell one (three random starts);
  // on the geometric spectrum 1 + 100 x 0.97^i (n = 5,000) 2-8% more
  // products, and with the package's random start one sweep more (session
  // 21). The same for the first sweep's block as well (estimates=2) made a
  // Cholesky QR fail there. theta and residual come in the block's column
  // order, sorted ascending by theta (stably) as the filter reads them; the
  // block's columns stay in their order (nothing is locked before the first
  // Rayleigh-Ritz step).
  void start_estimates(int x, int z, int pa, std::vector<double>& theta,
                       std::vector<double>& residual) {
    multiply(block(x), pa, 1.0, 0.0, block(z));
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, pa, pa, n_, 1.0, block(x), n_, block(z), n_, 0.0, h(), pa);
    CS_CUBLAS_CHECK(cublasDcopy(blas_.get(), pa, h(), pa + 1, theta_->as<double>(), 1));
    residual_norms(ctx_, block(x), block(z), theta_->as<double>(), n_, pa,
                   small_->as<double>());
    theta.resize(size_t(pa));
    residual.resize(size_t(pa));
    CS_CUDA_CHECK(cudaMemcpyAsync(theta.data(), theta_->data(), size_t(pa) * sizeof(double),
                                  cudaMemcpyDeviceToHost, ctx_.stream));
    download(small_->data(), residual.data(), residual.size());
    // (a value that is not finite ends the solve before the order matters)
    if (std::all_of(theta.begin(), theta.end(), [](double t) { return std::isfinite(t); }))
      sort_pairs(theta, residual);
  }

  // A - c I in place of A (the filter's steps), and A back, bit for bit.
  void shift_matrix(double c) {
    set_diagonal(ctx_, a_, n_, diagonal_->as<double>(), c);
    shifted_ = true;
  }
  void unshift_matrix() {
    set_diagonal(ctx_, a_, n_, diagonal_->as<double>(), 0.0);
    shifted_ = false;
  }

  // A step after the first on the shifted matrix (shift_matrix(c), c the
  // filter's center, so that beta y = -c alpha y is in the product):
  // out = alpha A_d y + gamma out, out holding Y_{j-1}, with
  // A_d = A - c I - V diag(shift) V^T (shift uploaded by set_shift): one
  // GEMM with A_d when the sweep wrote it out, else with A and the locked
  // pairs' part apart.
  void filter_step(const ChebyshevStep& step, const double* y, double* out, int pa, int locked,
                   bool deflated) {
    if (deflated) {
      multiply_by(deflated_->as<double>(), y, pa, step.alpha, step.gamma, out);
      return;
    }
    multiply(y, pa, step.alpha, step.gamma, out);
    deflate(step, y, out, pa, locked);
  }

  // Writes A_d = A - c I - V diag(shift) V^T (A shifted by shift_matrix(c),
  // shift uploaded by set_shift) into a second n x n matrix, with `scratch`
  // (n x locked) for V diag(shift). Each of a sweep's steps is then one GEMM:
  // the locked pairs' part apart (deflate) is two thin GEMMs and a scaling a
  // step, launch-bound at these sizes, where writing A_d is one copy of A and
  // one GEMM a sweep. False when the matrix would pass the device's memory
  // budget or does not fit.
  bool write_deflated(int locked, double* scratch) {
    if (!deflated_) {
      const size_t bytes = size_t(n_) * size_t(n_) * sizeof(double);
      if (bytes > budget_room(ctx_.device)) return false;
      try {
        deflated_ = make_buffer(ctx_.device, bytes);
      } catch (const OutOfMemory&) {
        return false;
      }
    }
    double* d = deflated_->as<double>();
    CS_CUDA_CHECK(cudaMemcpyAsync(d, a_, size_t(n_) * size_t(n_) * sizeof(double),
                                  cudaMemcpyDeviceToDevice, ctx_.stream));
    CS_CUDA_CHECK(cudaMemcpyAsync(scratch, v(), size_t(n_) * size_t(locked) * sizeof(double),
                                  cudaMemcpyDeviceToDevice, ctx_.stream));
    scale_matrix(ctx_, scratch, n_, locked, n_, nullptr, shift_->as<double>());
    gemm(CUBLAS_OP_N, CUBLAS_OP_T, n_, n_, locked, -1.0, scratch, n_, v(), n_, 1.0, d, n_);
    return true;
  }

  // The sweep's first step (Y_0 = y, gamma 0) without a product with A:
  // z = A y (unshifted) is Rayleigh-Ritz's (A X) W for the Ritz vectors
  // y = X W, so alpha (A - c I) y = alpha z + beta y. One GEMM with A fewer a
  // sweep; the same step to rounding.
  void filter_first_step_from(const double* z, const ChebyshevStep& step, const double* y,
                              double* out, int pa, int locked) {
    CS_CUBLAS_CHECK(cublasDgeam(blas_.get(), CUBLAS_OP_N, CUBLAS_OP_N, int(n_), pa, &step.alpha,
                                z, int(n_), &step.beta, y, int(n_), out, int(n_)));
    deflate(step, y, out, pa, locked);
  }

  // out -= alpha V diag(shift) V^T y: the locked pairs' part of A_d.
  void deflate(const ChebyshevStep& step, const double* y, double* out, int pa, int locked) {
    if (locked == 0) return;
    double* t = t_->as<double>();
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, locked, pa, n_, 1.0, v(), n_, y, n_, 0.0, t, locked);
    scale_matrix(ctx_, t, locked, pa, locked, shift_->as<double>(), nullptr);
    gemm(CUBLAS_OP_N, CUBLAS_OP_N, n_, pa, locked, -step.alpha, v(), n_, t, locked, 1.0, out, n_);
  }

  // ||A||_F, an upper bound of |lambda_1|.
  double frobenius() {
    double norm = 0;
    CS_CUBLAS_CHECK(cublasDnrm2_64(blas_.get(), n_ * n_, a_, 1, &norm));
    return norm;
  }

  void set_shift(const std::vector<double>& shift) {
    if (!shift.empty()) upload(shift, *shift_);
  }

  // Column indices (at most p) on the device, for gather_columns.
  void upload_columns(const std::vector<int>& cols) {
    CS_CHECK(cols.size() <= size_t(p_), "internal: more columns than the block holds");
    upload(cols, *columns_);
  }
  const int* columns() const { return columns_->as<int>(); }

  // Verifies the locked pairs on A: each ||A v - theta v|| (into residual)
  // and max |V^T V - I|.
  void check_locked(const std::vector<double>& theta_locked, int scratch,
                    std::vector<double>& residual, double& orthogonality) {
    upload(theta_locked, *theta_);
    multiply(v(), k_, 1.0, 0.0, block(scratch));
    residual_norms(ctx_, v(), block(scratch), theta_->as<double>(), n_, k_, small_->as<double>());
    std::vector<double> vtv(size_t(k_) * size_t(k_));
    residual.resize(static_cast<size_t>(k_));
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, k_, k_, n_, 1.0, v(), n_, v(), n_, 0.0, h(), k_);
    CS_CUDA_CHECK(cudaMemcpyAsync(residual.data(), small_->data(), residual.size() * sizeof(double),
                                  cudaMemcpyDeviceToHost, ctx_.stream));
    download(h_->data(), vtv.data(), vtv.size());
    orthogonality = 0;
    for (int i = 0; i < k_; ++i) {
      for (int j = 0; j < k_; ++j)
        orthogonality = std::max(orthogonality,
                                 std::fabs(vtv[size_t(i) * k_ + j] - (i == j ? 1.0 : 0.0)));
    }
  }

  const DeviceContext& ctx_;

 private:
  CublasLease blas_;
  SolverSlot& solver_;
  double* a_;
  int64_t n_;
  int p_, k_;
  BufferPtr diagonal_, blocks_[4], v_, h_, t_, theta_, small_, shift_, info_, work_;
  BufferPtr columns_;   // column indices for gather_columns
  BufferPtr deflated_;  // A_d of the sweep (write_deflated), made at its first use
  int lwork_ = 1;
  bool shifted_ = false;
  syevjInfo_t jacobi_ = nullptr;
};

enum Phase { kStart, kFilter, kOrthonormalize, kRayleighRitz, kFinish };

// The residual at which active pair i (theta ascending, every locked value
// above them, `above` the lowest locked one or +inf) may be locked
// (spec_locking.h): the spectrum outside the block lies below its lowest
// Ritz value, which has no neighbour below it in view and stays strict.
double locking_residual(const std::vector<double>& theta, int i, double above, double top,
                        const ChefsiOptions& o) {
  const double up = i + 1 < int(theta.size()) ? theta[size_t(i + 1)] : above;
  const double down = i > 0 ? theta[size_t(i - 1)] : -HUGE_VAL;
  return pair_residual_bound(theta[size_t(i)], up, down, theta[0], o.tolerance * top,
                             o.value_tolerance);
}


}  // namespace

int chefsi_default_block(int k) {
  const int p = std::max((16 * k + 9) / 10, k + 32);
  // cuBLAS's float64 GEMM of the filter runs faster at widths that are
  // multiples of 64 (n = 5,000 on an H100, bench/eigen_methods.cu: 0.132 ms
  // at 128 columns, 0.196 ms at 160, 0.182 ms at 192), so a multiple of 64
  // below p is taken when it still leaves 28 vectors beyond k. k = 100: 128
  // in place of 160; on the seed pipeline's matrix 0.0457 s against 0.0496
  // (bench/pca_methods.R, H100, session 14; 0.0466 / 0.0509 and 0.0473 /
  // 0.0505 in sessions 12 and 13), on eigen_methods.cu's single-cell
  // spectrum 0.0350 against 0.0345 s.
  const int multiple = p / 64 * 64;
  return multiple >= k + 28 ? multiple : p;
}

ChefsiReport chefsi_top_eigen_on_device(const DeviceContext& ctx, double* a, int64_t n,
                                        int k, double* values, double* vectors,
                                        const ChefsiOptions& o) {
  ChefsiReport report;
  CS_CHECK(n >= 1 && k >= 1 && k <= n, "internal: eigenpairs out of range");
  int p = o.block > 0 ? o.block : chefsi_default_block(k);
  p = int(std::min<int64_t>(std::max(p, k), n));

  PhaseClock clock(ctx, o.profile);
  SolverSlot& solver = solver_slot(ctx.device);
  std::lock_guard<std::mutex> lock(solver.mutex);
  ready(solver, ctx.stream);
  Subspace s(ctx, solver, a, n, p, k, o.jacobi);

  // Blocks: x holds the Ritz vectors; the other three are scratch, but
  // after a Rayleigh-Ritz step others(2) holds A x (ritz_product).
  int x = 0;
  const auto others = [&](int i) { return (x + 1 + i) % 4; };
  const auto ritz_product = [&] { return others(2); };
  fill_uniform(ctx, s.block(x), int64_t(n) * p, o.seed);  // the random start block
  int pa = p, locked = 0;
  std::vector<double> theta, residual, theta_locked;
  std::vector<double> locked_at;  // the residual each locked pair was locked at
  if (!s.orthonormalize(s.block(x), pa)) return report;
  // Bounds for the first filter from the start block as it is; A x goes
  // where the Rayleigh-Ritz steps leave it (ritz_product). Nothing is locked
  // before the first Rayleigh-Ritz step.
  s.start_estimates(x, ritz_product(), pa, theta, residual);
  clock.add_to(report.seconds[kStart]);
  double top = 0;
  const double budget = o.max_products * double(n);
  while (true) {
    report.products = s.products;
    for (double t : theta)
      if (!std::isfinite(t)) return report;
    top = std::max(top, std::fabs(theta.back()));  // theta ascending
    // Lock the leading pairs that have converged (the block's last columns),
    // from the first Rayleigh-Ritz step on.
    const double above = theta_locked.empty()
                             ? HUGE_VAL
                             : *std::min_element(theta_locked.begin(), theta_locked.end());
    int lock_now = 0;
    std::vector<double> at;  // from the top pair down
    while (report.sweeps > 0 && lock_now < pa && locked + lock_now < k) {
      const int i = pa - 1 - lock_now;
      const double allowed = locking_residual(theta, i, above, top, o);
      if (!(residual[size_t(i)] <= allowed)) break;
      if (residual[size_t(i)] > o.tolerance * top) ++report.bulk_locked;
      at.push_back(allowed);
      ++lock_now;
    }
    if (lock_now > 0) {
      locked_at.insert(locked_at.end(), at.rbegin(), at.rend());  // ascending, as theta
      CS_CUDA_CHECK(cudaMemcpyAsync(s.v() + int64_t(locked) * n, s.block(x) + int64_t(pa - lock_now) * n,
                                    size_t(lock_now) * size_t(n) * sizeof(double),
                                    cudaMemcpyDeviceToDevice, ctx.stream));
      theta_locked.insert(theta_locked.end(), theta.end() - lock_now, theta.end());
      pa -= lock_now;
      locked += lock_now;
      theta.resize(size_t(pa));
      residual.resize(size_t(pa));
    }
    if (locked == k) break;

    const ChebyshevFilter filter = chebyshev_filter(theta, residual, k - locked,
                                                    0.1 * o.tolerance * top,
                                                    report.sweeps == 0 ? s.frobenius() : 0.0,
                                                    o.filter);
    if (report.sweeps >= o.max_sweeps ||
        double(s.products) + double(filter.degree + 1) * pa > budget)
      return report;
    ++report.sweeps;
    report.sweep_degree.push_back(filter.degree);
    report.sweep_active.push_back(pa);
    report.sweep_locked.push_back(locked);
    std::vector<double> shift(theta_locked);
    for (double& value : shift) value -= filter.center;
    s.set_shift(shift);
    int cur = x, prev = -1;  // the blocks holding Y_j and Y_{j-1}
    s.shift_matrix(filter.center);
    // The filter does not use others(1): V diag(shift) goes there while A_d
    // is written.
    const bool deflated = locked > 0 && o.deflated_min_degree > 0 &&
                          filter.degree >= o.deflated_min_degree &&
                          s.write_deflated(locked, s.block(others(1)));
    if (deflated) ++report.deflated_sweeps;
    for (const ChebyshevStep& step : chebyshev_steps(filter)) {
      const int out = prev >= 0 ? prev : others(0);  // Y_{j+1} replaces Y_{j-1}
      if (prev < 0)
        s.filter_first_step_from(s.block(ritz_product()), step, s.block(cur), s.block(out), pa,
                                 locked);
      else
        s.filter_step(step, s.block(cur), s.block(out), pa, locked, deflated);
      prev = cur;
      cur = out;
    }
    s.unshift_matrix();
    x = cur;
    clock.add_to(report.seconds[kFilter]);
    s.project_out_locked(s.block(x), pa, locked);
    if (!s.orthonormalize(s.block(x), pa)) return report;
    clock.add_to(report.seconds[kOrthonormalize]);
    if (!s.rayleigh_ritz(x, others(0), others(1), others(2), pa, theta, residual)) return report;
    x = others(2);
    clock.add_to(report.seconds[kRayleighRitz]);
  }

  // No Ritz value left in the block above the k-th locked one: a pair that
  // the locking passed over would show here.
  // (A pair locked by its value may sit up to ~value_tolerance x |theta| below
  // its eigenvalue.)
  const double kth = *std::min_element(theta_locked.begin(), theta_locked.end());
  if (pa > 0 && theta.back() > kth + o.tolerance * top + 10 * o.value_tolerance * std::fabs(kth))
    return report;
  std::vector<double> r;
  s.check_locked(theta_locked, others(0), r, report.orthogonality);
  report.products = s.products;
  bool within = true;
  report.max_residual = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    within = within && r[i] <= 10 * std::max(locked_at[i], o.tolerance * top);  // NaN fails
    report.max_residual = std::max(report.max_residual, r[i] / top);
    if (!(r[i] == r[i])) report.max_residual = r[i];  // NaN stays
  }
  if (!within || !(report.orthogonality <= 1e-8)) return report;
  std::vector<int> order(static_cast<size_t>(k));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int i, int j) { return theta_locked[size_t(i)] > theta_locked[size_t(j)]; });
  // The vectors in the answer's order on the device (into a free block),
  // then through the device's pinned staging buffer straight into `vectors`:
  // into pageable memory the copy runs far below the link's speed (4 MB at
  // k = 100), and no host copy of V is made and reordered.
  for (int i = 0; i < k; ++i) values[i] = theta_locked[size_t(order[size_t(i)])];
  s.upload_columns(order);
  gather_columns(ctx, s.v(), n, k, s.columns(), s.block(others(0)));
  copy_device_to_host_staged(vectors, s.block(others(0)), ctx.device,
                             size_t(n) * size_t(k) * sizeof(double));
  report.converged = true;
  clock.add_to(report.seconds[kFinish]);
  return report;
}

}  // namespace cellshard
