// The dense matrix products of the CPU eigensolver (block_lanczos.h), written
// here so that they do not depend on which BLAS R was built with (Debian's R
// uses the reference BLAS, which is single-threaded and unblocked).
// Column-major, float64, multithreaded over output rows: each output entry
// is summed by one thread in a fixed order, so results do not depend on the
// number of threads. Where the CPU has AVX2 and FMA, a copy of the inner
// loops compiled for them is chosen at run time.
#pragma once
#include <cstdint>

namespace cellshard {

// C = A^T B: A is k x m (leading dimension lda), B is k x n (ldb), C is m x n (ldc).
void dense_tn(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
              int64_t ldb, double* c, int64_t ldc);

// C = beta * C + alpha * A B: A is m x k (lda), B is k x n (ldb), C is m x n
// (ldc); beta is 0 or 1 (0: C is not read).
void dense_nn(int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
              const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace cellshard
