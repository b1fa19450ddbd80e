// Block Lanczos on the GPU (see lanczos_on_device.h). Per step j, with Q the
// Krylov basis (n x m, on the device) and Q_j its last block of b columns:
//   W = A Q_j, made orthogonal to Q twice (the last two blocks, then all:
//   classical Gram-Schmidt with reorthogonalisation, as GEMMs); its
//   coefficients on Q_j are T's diagonal block D_j;
//   W = Q_{j+1} R_j by Cholesky QR, twice (the b x b Gram on the host).
// Each time the basis has grown by half, Rayleigh-Ritz on the block
// tridiagonal T = Q^T A Q (m x m, dense, cuSOLVER's syevdx on the device: the
// host's reference LAPACK would take longer than the whole solve), the Ritz
// residuals from R_j (cheap), and once they are small the answer is checked on
// A itself. The tolerance and the checks are the CPU backend's.
#include "lanczos_on_device.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "../core/block_tridiagonal.h"
#include "../core/buffer.h"
#include "../core/errors.h"
#include "cublas_handles.h"
#include "cuda_check.h"

namespace cellshard {

namespace {

// R (b x b upper triangular, column-major) with g = R^T R for the symmetric
// g; false when g is not numerically positive definite.
bool cholesky_upper(const std::vector<double>& g, int b, std::vector<double>& r) {
  r.assign(size_t(b) * size_t(b), 0.0);
  for (int j = 0; j < b; ++j)
    for (int i = 0; i <= j; ++i) {
      double s = g[size_t(j) * b + i];
      for (int p = 0; p < i; ++p) s -= r[size_t(i) * b + p] * r[size_t(j) * b + p];
      if (i == j) {
        if (!(s > 0.0)) return false;
        r[size_t(j) * b + j] = std::sqrt(s);
      } else {
        r[size_t(j) * b + i] = s / r[size_t(i) * b + i];
      }
    }
  return true;
}

// x y for upper triangular b x b x and y.
std::vector<double> upper_product(const std::vector<double>& x, const std::vector<double>& y, int b) {
  std::vector<double> z(size_t(b) * size_t(b), 0.0);
  for (int j = 0; j < b; ++j)
    for (int i = 0; i <= j; ++i) {
      double s = 0;
      for (int p = i; p <= j; ++p) s += x[size_t(p) * b + i] * y[size_t(j) * b + p];
      z[size_t(j) * b + i] = s;
    }
  return z;
}


class DeviceLanczos {
 public:
  DeviceLanczos(const DeviceContext& ctx, const double* a, int64_t n, int b, int64_t capacity)
      : ctx_(ctx), blas_(ctx), a_(a), n_(n), b_(b),
        q_(make_buffer(ctx.device, size_t(n) * size_t(capacity) * sizeof(double))),
        w_(make_buffer(ctx.device, size_t(n) * size_t(b) * sizeof(double))),
        h_(make_buffer(ctx.device, size_t(capacity) * size_t(b) * sizeof(double))),
        small_(make_buffer(ctx.device, size_t(b) * size_t(b) * sizeof(double))) {}

  int64_t size() const { return m_; }
  double* column(int64_t j) { return q_->as<double>() + j * n_; }
  double* w() { return w_->as<double>(); }

  // C (rows x cols, ld rows... as given) = alpha op(A) op(B) + beta C.
  void gemm(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t cols, int64_t inner,
            double alpha, const double* x, int64_t ldx, const double* y, int64_t ldy, double beta,
            double* c, int64_t ldc) {
    CS_CUBLAS_CHECK(cublasDgemm(blas_.get(), ta, tb, int(m), int(cols), int(inner), &alpha, x,
                                int(ldx), y, int(ldy), &beta, c, int(ldc)));
  }

  // X^T X for the n x b block x, on the host.
  std::vector<double> block_gram(const double* x) {
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, b_, b_, n_, 1.0, x, n_, x, n_, 0.0, small_->as<double>(), b_);
    std::vector<double> g(size_t(b_) * size_t(b_));
    download(small_->data(), g.data(), g.size());
    return g;
  }

  void download(const void* device, double* host, size_t count) {
    CS_CUDA_CHECK(cudaMemcpyAsync(host, device, count * sizeof(double), cudaMemcpyDeviceToHost,
                                  ctx_.stream));
    synchronize(ctx_);
  }

  // Makes the columns of w (n x b) orthonormal, Cholesky QR twice, and
  // returns R with w_before = w_after R. False when a column was (nearly) in
  // the span of the others and of the basis (by `scale`: the columns' norms
  // before orthogonalisation): an invariant subspace, which this solver does
  // not continue past (the caller falls back).
  bool orthonormalize(double* w, const std::vector<double>& scale, std::vector<double>& r_total) {
    std::vector<double> r;
    for (int pass = 0; pass < 2; ++pass) {
      if (!cholesky_upper(block_gram(w), b_, r)) return false;
      if (pass == 0)
        for (int c = 0; c < b_; ++c)
          if (!(r[size_t(c) * b_ + c] > 1e-10 * scale[size_t(c)])) return false;
      upload(r);
      const double one = 1.0;
      CS_CUBLAS_CHECK(cublasDtrsm(blas_.get(), CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER,
                                  CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, int(n_), b_, &one,
                                  small_->as<double>(), b_, w, int(n_)));
      r_total = pass == 0 ? r : upper_product(r, r_total, b_);
    }
    return true;
  }

  void upload(const std::vector<double>& x) {
    CS_CUDA_CHECK(cudaMemcpyAsync(small_->data(), x.data(), x.size() * sizeof(double),
                                  cudaMemcpyHostToDevice, ctx_.stream));
    synchronize(ctx_);  // x is host memory the caller may change next
  }

  // w (n x b) -= Q Q^T w, twice; returns the coefficients of both passes on
  // the last block of the basis (b x b). With `recurrence` the first pass
  // takes only the last two blocks (the Lanczos recurrence's coefficients).
  std::vector<double> orthogonalize_to_basis(double* w, bool recurrence) {
    std::vector<double> last(size_t(b_) * size_t(b_), 0.0), part(last.size());
    if (m_ == 0) return last;
    for (int pass = 0; pass < 2; ++pass) {
      const int64_t from = pass == 0 && recurrence ? std::max<int64_t>(0, m_ - 2 * b_) : 0;
      const int64_t span = m_ - from;
      double* h = h_->as<double>();
      gemm(CUBLAS_OP_T, CUBLAS_OP_N, span, b_, n_, 1.0, column(from), n_, w, n_, 0.0, h, span);
      gemm(CUBLAS_OP_N, CUBLAS_OP_N, n_, b_, span, -1.0, column(from), n_, h, span, 1.0, w, n_);
      // rows [m - b, m) of h (span x b): the coefficients on the last block
      CS_CUDA_CHECK(cudaMemcpy2DAsync(part.data(), size_t(b_) * sizeof(double),
                                      h + (m_ - b_ - from), size_t(span) * sizeof(double),
                                      size_t(b_) * sizeof(double), size_t(b_),
                                      cudaMemcpyDeviceToHost, ctx_.stream));
      synchronize(ctx_);
      for (size_t i = 0; i < last.size(); ++i) last[i] += part[i];
    }
    return last;
  }

  // Appends w as the next block; false on breakdown (see orthonormalize).
  bool append(double* w, const std::vector<double>& scale, std::vector<double>& r) {
    if (!orthonormalize(w, scale, r)) return false;
    CS_CUDA_CHECK(cudaMemcpyAsync(column(m_), w, size_t(n_) * size_t(b_) * sizeof(double),
                                  cudaMemcpyDeviceToDevice, ctx_.stream));
    m_ += b_;
    return true;
  }

  // Norms of the columns of w (n x b).
  std::vector<double> column_norms(const double* w) {
    std::vector<double> g = block_gram(w), s(static_cast<size_t>(b_));
    for (int c = 0; c < b_; ++c) s[size_t(c)] = std::sqrt(std::max(0.0, g[size_t(c) * b_ + c]));
    return s;
  }

  const DeviceContext& ctx_;
  CublasLease blas_;
  const double* a_;
  int64_t n_;
  int b_;
  int64_t m_ = 0;
  BufferPtr q_, w_, h_, small_;
};

}  // namespace

LanczosReport lanczos_top_eigen_on_device(const DeviceContext& ctx, const double* a, int64_t n,
                                          int k, double* values, double* vectors,
                                          const LanczosOptions& o) {
  LanczosReport report;
  const int b = std::max(1, std::min<int>(o.block, int(n)));
  int64_t cap = o.max_basis > 0 ? o.max_basis : std::max<int64_t>(3 * k + 2 * b, 2 * n / 5);
  cap = std::min(cap, n) / b * b;
  if (k < 1 || cap < int64_t(k) + b) return report;

  DeviceLanczos basis(ctx, a, n, b, cap + b);
  BlockTridiagonal t{b, {}, {}};
  std::vector<double> r;
  {  // the random start block (the CPU backend's)
    std::vector<double> start(size_t(n) * size_t(b));
    std::mt19937_64 rng(o.seed ^ 0x5bd1e995u);
    for (double& x : start) x = double(int64_t(rng() >> 11)) * 0x1.0p-53 * 2.0 - 1.0;
    CS_CUDA_CHECK(cudaMemcpyAsync(basis.w(), start.data(), start.size() * sizeof(double),
                                  cudaMemcpyHostToDevice, ctx.stream));
    synchronize(ctx);
    if (!basis.append(basis.w(), basis.column_norms(basis.w()), r)) return report;
  }

  // Rayleigh-Ritz on T (dense, on the GPU with syevdx) costs about as much as
  // all the steps before it, so it is tried rarely: first at 6 k columns (the
  // leading pair converges long before, the k-th not; single-cell spectra
  // need about 12-20 k), then where the last two tries' residuals, extended
  // log-linearly, reach the tolerance (convergence speeds up, so this
  // overshoots little), at most half as far again.
  int64_t next_look = std::min(cap, std::max<int64_t>(int64_t(6) * k, 8 * int64_t(b)));
  double last_look_m = 0, last_look_residual = 0;
  const size_t nk = size_t(n) * size_t(k), kk = size_t(k) * size_t(k);
  while (true) {
    const int64_t m = basis.size(), first = m - b;
    // W = A Q_j, orthogonal to the whole basis; its coefficients on Q_j are D_j.
    basis.gemm(CUBLAS_OP_N, CUBLAS_OP_N, n, b, n, 1.0, a, n, basis.column(first), n, 0.0,
               basis.w(), n);
    std::vector<double> scale = basis.column_norms(basis.w());
    std::vector<double> h = basis.orthogonalize_to_basis(basis.w(), true);
    std::vector<double> d(size_t(b) * size_t(b));
    for (int c = 0; c < b; ++c)
      for (int row = 0; row < b; ++row)
        d[size_t(c * b + row)] = 0.5 * (h[size_t(c * b + row)] + h[size_t(row * b + c)]);
    t.diag.push_back(std::move(d));
    if (!basis.append(basis.w(), scale, r)) return report;  // invariant subspace: fall back
    t.coupling.push_back(r);
    report.basis = m;
    const bool last = m >= cap;
    if (m < next_look && !last) continue;

    ++report.dense_checks;
    std::vector<double> theta(static_cast<size_t>(k)), y(size_t(m) * size_t(k));
    {
      std::vector<double> dense = t.dense();
      BufferPtr td = make_buffer(ctx.device, dense.size() * sizeof(double));
      td->upload(dense.data(), td->bytes());
      syevdx_top_eigen(ctx.device, td->as<double>(), m, k, theta.data(), y.data());
    }
    const double norm_a = std::max(std::fabs(theta.front()), std::fabs(theta.back()));
    const double estimate = t.ritz_residual(y, k) / norm_a;
    if (!(estimate <= o.tolerance)) {
      if (last || !(estimate > 0)) break;
      double wanted = 1.5 * double(m);
      if (last_look_m > 0 && estimate < last_look_residual) {
        const double per_column = std::log(last_look_residual / estimate) / (double(m) - last_look_m);
        wanted = double(m) + std::log(estimate / o.tolerance) / per_column;
        // Far past the largest basis even by this (pessimistic) measure: give up early.
        if (wanted > 2.0 * double(cap)) break;
      }
      last_look_m = double(m);
      last_look_residual = estimate;
      next_look = std::max<int64_t>(m + 2 * b, std::min<int64_t>(int64_t(1.05 * wanted), m * 3 / 2));
      next_look = std::min(cap, (next_look + b - 1) / b * b);
      continue;
    }
    // The Ritz vectors V = Q Y, checked on A: ||A V - V Theta|| and V^T V.
    BufferPtr yd = make_buffer(ctx.device, y.size() * sizeof(double));
    BufferPtr v = make_buffer(ctx.device, nk * sizeof(double));
    BufferPtr av = make_buffer(ctx.device, nk * sizeof(double));
    BufferPtr vtv = make_buffer(ctx.device, kk * sizeof(double));
    yd->upload(y.data(), yd->bytes());
    basis.gemm(CUBLAS_OP_N, CUBLAS_OP_N, n, k, m, 1.0, basis.column(0), n, yd->as<double>(), m,
               0.0, v->as<double>(), n);
    basis.gemm(CUBLAS_OP_N, CUBLAS_OP_N, n, k, n, 1.0, a, n, v->as<double>(), n, 0.0,
               av->as<double>(), n);
    basis.gemm(CUBLAS_OP_T, CUBLAS_OP_N, k, k, n, 1.0, v->as<double>(), n, v->as<double>(), n,
               0.0, vtv->as<double>(), k);
    std::vector<double> av_host(nk), vtv_host(kk);
    CS_CUDA_CHECK(cudaMemcpyAsync(vectors, v->data(), nk * sizeof(double), cudaMemcpyDeviceToHost,
                                  ctx.stream));
    CS_CUDA_CHECK(cudaMemcpyAsync(av_host.data(), av->data(), nk * sizeof(double),
                                  cudaMemcpyDeviceToHost, ctx.stream));
    basis.download(vtv->data(), vtv_host.data(), kk);
    std::copy(theta.begin(), theta.end(), values);
    double worst = 0, loss = 0;
    for (int i = 0; i < k; ++i) {
      double s = 0;
      for (int64_t row = 0; row < n; ++row) {
        const double e = av_host[size_t(i) * size_t(n) + size_t(row)] -
                         values[i] * vectors[int64_t(i) * n + row];
        s += e * e;
      }
      worst = std::max(worst, std::sqrt(s));
      for (int j = 0; j < k; ++j)
        loss = std::max(loss, std::fabs(vtv_host[size_t(i) * k + j] - (i == j ? 1.0 : 0.0)));
    }
    report.max_residual = norm_a > 0 ? worst / norm_a : worst;
    // Rounding in forming A v adds to the estimate: a margin of 10.
    if (report.max_residual <= 10 * o.tolerance && loss <= 1e-8) {
      report.converged = true;
      return report;
    }
    if (last) break;
    next_look = std::min(cap, m + std::max<int64_t>(2 * b, m / 4 / b * b));
  }
  return report;
}

}  // namespace cellshard
