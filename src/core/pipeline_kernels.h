// The per-shard kernels of the preprocessing pipeline (QC, normalisation,
// highly variable genes, scaling, PCA). Each backend implements them for the
// shards it holds; core/pipeline_passes.cpp combines the results across
// shards in float64. Inputs are views of one shard on its device. Per-gene
// results are added into accumulators in the memory of the shard's device
// ("device" arrays: host memory on the CPU backend), which
// core/device_partials.h sums across devices; host arrays are named so.
// Every call has finished when it returns.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "backend.h"

namespace cellshard {

// out = clip(op(in * row_factor[r]) * col_factor[g] + col_offset[g], lo, hi),
// for each stored value of row r and gene g. Null factors are 1, a null
// offset is 0. op is applied in float64 and the result rounded to float32.
struct ValueMap {
  enum class Op { None, Log1p, Expm1 };
  const double* row_factor = nullptr;  // host, n_rows
  Op op = Op::None;
  double log_divisor = 1.0;            // Log1p: log1p(x) / log_divisor (log(base))
  const double* col_factor = nullptr;  // host, n_cols
  const double* col_offset = nullptr;  // host, n_cols
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  // Round op(x * row_factor) to float before the per-gene terms: two maps in
  // one (core/sharded_matrix.h, ValueRecipe) then give the bits of the first
  // map's stored float values mapped by the second.
  bool float_after_op = false;
};

// Which function of the stored values col_moments sums.
struct MomentOptions {
  bool expm1 = false;                  // use expm1(x) (log data back to linear scale)
  const double* clip = nullptr;        // host, n_cols: use min(x, clip[g]) after expm1
};

// Per-gene sums of f(x), f(x)^2 and counts of f(x) > 0, accumulated (+=)
// into device arrays of n_cols entries (counts as doubles, exact below 2^53).
struct ColumnMoments {
  double* sum = nullptr;
  double* sum_sq = nullptr;
  double* n_positive = nullptr;
};

// coef * x y^T for host vectors x and y of n entries.
struct OuterProduct {
  double coef = 0.0;
  const double* x = nullptr;
  const double* y = nullptr;
};

class PipelineKernels {
 public:
  virtual ~PipelineKernels() = default;

  // Writes mapped values to `out` (nnz floats on the shard's device; may be `in`).
  virtual void map_values(const CsrView& a, const float* in, float* out, const ValueMap& map) = 0;

  virtual void col_moments(const CsrView& a, const float* values, const MomentOptions& options,
                           ColumnMoments out) = 0;

  // Per-cell sums over gene subsets: bit k of gene_bits[g] (host, n_cols)
  // says gene g is in subset k. Writes out[k * n_rows + r] (host), k < n_subsets.
  virtual void row_subset_sums(const CsrView& a, const float* values, const uint32_t* gene_bits,
                               int n_subsets, double* out) = 0;

  // The per-cell QC pass: Backend::row_stats into `stats` (skipped when
  // stats.sums is null) and row_subset_sums into `subset_sums` (skipped when
  // n_subsets is 0), the same numbers as those two; a backend may read the
  // shard once for both (the default calls the two).
  virtual void row_qc(const CsrView& a, const float* values, const uint32_t* gene_bits,
                      int n_subsets, AxisStats stats, double* subset_sums);

  // Per-cell sum of the n largest values for each n of `ns` (ascending):
  // out[j * n_rows + r] (host). Rows with fewer values sum all of them.
  virtual void row_top_sums(const CsrView& a, const float* values, const std::vector<int>& ns,
                            double* out) = 0;

  // Sets flags[g] = 1 (device, n_cols; others left alone) for every gene with a
  // value > fraction * row_total[r] (host, n_rows) in some row r.
  virtual void flag_dominant_genes(const CsrView& a, const float* values, const double* row_total,
                                   double fraction, double* flags) = 0;

  // Accumulates X^T X of the shard into `gram` (device, n_cols x n_cols,
  // column-major, both triangles), in float64.
  virtual void gram(const CsrView& a, const float* values, double* gram) = 0;

  // a = scale * a + sum of the terms' coef * x y^T, for a (device, n x n).
  virtual void add_outer_products(int device, double* a, int64_t n, double scale,
                                  const std::vector<OuterProduct>& terms) = 0;

  // The k largest eigenvalues of the symmetric a (device, n x n, column-major;
  // overwritten), in decreasing order, into `values` (host, k), and their
  // eigenvectors into `vectors` (host, n x k, column-major).
  virtual void top_eigen(int device, double* a, int64_t n, int k, double* values,
                         double* vectors) = 0;

  // out = X * V + 1 shift^T for V (host, n_cols x k, column-major; float32,
  // as the stored values) and shift (host, k entries, or null for none): out
  // is memory on a's device, n_rows x k, column-major with leading dimension
  // ld_out (>= n_rows), float64; each product of two floats is exact in
  // float64, and the sums are float64.
  virtual void multiply(const CsrView& a, const float* values, const float* v, int k,
                        const double* shift, double* out, int64_t ld_out) = 0;
};

// The kernels for shards on `device` (kHost: the CPU backend).
PipelineKernels& pipeline_kernels_for(int device);

}  // namespace cellshard
