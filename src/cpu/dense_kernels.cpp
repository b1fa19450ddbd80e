#include "dense_kernels.h"

#include <algorithm>
#include <vector>

#include "../core/parallel_for.h"
#include "csr_ranges.h"
#include "simd.h"

namespace cellshard {

namespace {

constexpr int64_t kDepthBlock = 2048;  // k-range whose slices of A and B stay in L2

// C(i0 .. i0+MI, j0 .. j0+NJ) += A^T B over l in [l0, l1): dot products of
// columns, vectorised along l, with MI x NJ accumulators in registers.
template <int MI, int NJ>
__attribute__((always_inline)) inline void tn_tile(int64_t l0, int64_t l1, const double* a,
                                                   int64_t lda, const double* b, int64_t ldb,
                                                   int64_t i0, int64_t j0, double* c, int64_t ldc) {
  double4 acc[MI][NJ];
  #pragma GCC unroll 8
  for (int i = 0; i < MI; ++i)
    #pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) acc[i][j] = splat4(0.0);
  const double* ac[MI];
  const double* bc[NJ];
  #pragma GCC unroll 8
  for (int i = 0; i < MI; ++i) ac[i] = a + (i0 + i) * lda;
  #pragma GCC unroll 8
  for (int j = 0; j < NJ; ++j) bc[j] = b + (j0 + j) * ldb;
  int64_t l = l0;
  for (; l + 4 <= l1; l += 4) {
    double4 av[MI], bv[NJ];
    #pragma GCC unroll 8
    for (int i = 0; i < MI; ++i) av[i] = load4(ac[i] + l);
    #pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) bv[j] = load4(bc[j] + l);
    #pragma GCC unroll 8
    for (int i = 0; i < MI; ++i)
      #pragma GCC unroll 8
      for (int j = 0; j < NJ; ++j) acc[i][j] += av[i] * bv[j];
  }
  #pragma GCC unroll 8
  for (int i = 0; i < MI; ++i)
    #pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) {
      double s = sum4(acc[i][j]);
      for (int64_t t = l; t < l1; ++t) s += ac[i][t] * bc[j][t];
      c[(j0 + j) * ldc + i0 + i] += s;
    }
}

// C rows [i0, i1) of A^T B, the k range in blocks.
template <int MI, int NJ>
__attribute__((always_inline)) inline void tn_rows(int64_t i0, int64_t i1, int64_t n, int64_t k,
                                                   const double* a, int64_t lda, const double* b,
                                                   int64_t ldb, double* c, int64_t ldc) {
  for (int64_t j = 0; j < n; ++j) std::fill(c + j * ldc + i0, c + j * ldc + i1, 0.0);
  for (int64_t l0 = 0; l0 < k; l0 += kDepthBlock) {
    const int64_t l1 = std::min(k, l0 + kDepthBlock);
    int64_t i = i0;
    for (; i + MI <= i1; i += MI) {
      int64_t j = 0;
      for (; j + NJ <= n; j += NJ) tn_tile<MI, NJ>(l0, l1, a, lda, b, ldb, i, j, c, ldc);
      for (; j < n; ++j) tn_tile<MI, 1>(l0, l1, a, lda, b, ldb, i, j, c, ldc);
    }
    for (; i < i1; ++i)
      for (int64_t j = 0; j < n; ++j) tn_tile<1, 1>(l0, l1, a, lda, b, ldb, i, j, c, ldc);
  }
}

// Rows [i0, i0 + 4 * MV) and columns [j0, j0 + NJ) of alpha * A B added to C
// (already scaled by beta), vectorised along rows.
template <int MV, int NJ>
__attribute__((always_inline)) inline void nn_tile(int64_t k, double alpha, const double* a,
                                                   int64_t lda, const double* b, int64_t ldb,
                                                   int64_t i0, int64_t j0, double* c, int64_t ldc) {
  double4 acc[NJ][MV];
  #pragma GCC unroll 8
  for (int j = 0; j < NJ; ++j)
    #pragma GCC unroll 8
    for (int v = 0; v < MV; ++v) acc[j][v] = splat4(0.0);
  for (int64_t l = 0; l < k; ++l) {
    double4 av[MV];
    #pragma GCC unroll 8
    for (int v = 0; v < MV; ++v) av[v] = load4(a + l * lda + i0 + 4 * v);
    #pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) {
      const double4 bj = splat4(b[(j0 + j) * ldb + l]);
      #pragma GCC unroll 8
      for (int v = 0; v < MV; ++v) acc[j][v] += av[v] * bj;
    }
  }
  #pragma GCC unroll 8
  for (int j = 0; j < NJ; ++j)
    #pragma GCC unroll 8
    for (int v = 0; v < MV; ++v) {
      double* out = c + (j0 + j) * ldc + i0 + 4 * v;
      store4(out, load4(out) + splat4(alpha) * acc[j][v]);
    }
}

template <int MV, int NJ>
__attribute__((always_inline)) inline void nn_rows(int64_t i0, int64_t i1, int64_t n, int64_t k,
                                                   double alpha, const double* a, int64_t lda,
                                                   const double* b, int64_t ldb, double* c,
                                                   int64_t ldc) {
  constexpr int64_t kRows = 4 * MV;
  int64_t i = i0;
  for (; i + kRows <= i1; i += kRows) {
    int64_t j = 0;
    for (; j + NJ <= n; j += NJ) nn_tile<MV, NJ>(k, alpha, a, lda, b, ldb, i, j, c, ldc);
    for (; j < n; ++j) nn_tile<MV, 1>(k, alpha, a, lda, b, ldb, i, j, c, ldc);
  }
  for (; i < i1; ++i)  // the last rows, one at a time
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t l = 0; l < k; ++l) s += a[l * lda + i] * b[j * ldb + l];
      c[j * ldc + i] += alpha * s;
    }
}

void tn_rows_generic(int64_t i0, int64_t i1, int64_t n, int64_t k, const double* a, int64_t lda,
                     const double* b, int64_t ldb, double* c, int64_t ldc) {
  tn_rows<2, 2>(i0, i1, n, k, a, lda, b, ldb, c, ldc);
}
void nn_rows_generic(int64_t i0, int64_t i1, int64_t n, int64_t k, double alpha, const double* a,
                     int64_t lda, const double* b, int64_t ldb, double* c, int64_t ldc) {
  nn_rows<2, 2>(i0, i1, n, k, alpha, a, lda, b, ldb, c, ldc);
}

#if defined(__GNUC__) && defined(__x86_64__)
#define CELLSHARD_AVX2_COPY 1
// The same loops for CPUs with AVX2 and FMA (16 vector registers of 4
// doubles: larger tiles).
__attribute__((target("avx2,fma"))) void tn_rows_avx2(int64_t i0, int64_t i1, int64_t n, int64_t k,
                                                      const double* a, int64_t lda, const double* b,
                                                      int64_t ldb, double* c, int64_t ldc) {
  tn_rows<4, 3>(i0, i1, n, k, a, lda, b, ldb, c, ldc);
}
__attribute__((target("avx2,fma"))) void nn_rows_avx2(int64_t i0, int64_t i1, int64_t n, int64_t k,
                                                      double alpha, const double* a, int64_t lda,
                                                      const double* b, int64_t ldb, double* c,
                                                      int64_t ldc) {
  nn_rows<2, 4>(i0, i1, n, k, alpha, a, lda, b, ldb, c, ldc);
}
bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#endif

// Output rows in pieces of `align` rows, a few per thread.
void for_row_pieces(int64_t m, int64_t work_per_row, int64_t align,
                    const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t units = (m + align - 1) / align;
  const size_t pieces = std::min<size_t>(cpu_pieces(units * work_per_row * align, 1 << 20), size_t(units));
  parallel_ranges(size_t(units), pieces, [&](size_t u0, size_t u1) {
    fn(int64_t(u0) * align, std::min(m, int64_t(u1) * align));
  });
}

}  // namespace

void dense_tn(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
              int64_t ldb, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  for_row_pieces(m, n * k, 4, [&](int64_t i0, int64_t i1) {
#ifdef CELLSHARD_AVX2_COPY
    if (has_avx2()) return tn_rows_avx2(i0, i1, n, k, a, lda, b, ldb, c, ldc);
#endif
    tn_rows_generic(i0, i1, n, k, a, lda, b, ldb, c, ldc);
  });
}

void dense_nn(int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
              const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  for_row_pieces(m, n * k, 8, [&](int64_t i0, int64_t i1) {
    if (beta == 0.0)
      for (int64_t j = 0; j < n; ++j) std::fill(c + j * ldc + i0, c + j * ldc + i1, 0.0);
#ifdef CELLSHARD_AVX2_COPY
    if (has_avx2()) return nn_rows_avx2(i0, i1, n, k, alpha, a, lda, b, ldb, c, ldc);
#endif
    nn_rows_generic(i0, i1, n, k, alpha, a, lda, b, ldb, c, ldc);
  });
}

}  // namespace cellshard
