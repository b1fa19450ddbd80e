#include "cpu_pipeline_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>

#include "../core/parallel_for.h"
#include "csr_ranges.h"
#include "sparse_gram.h"
#include "sparse_project.h"
#include "symmetric_eigen.h"

namespace cellshard {

namespace {

double apply_op(double x, const ValueMap& m) {
  switch (m.op) {
    case ValueMap::Op::Log1p: return std::log1p(x) / m.log_divisor;
    case ValueMap::Op::Expm1: return std::expm1(x);
    case ValueMap::Op::None: break;
  }
  return x;
}

// f(x) remembered for the values of one row. A cell's stored values repeat:
// its counts are mostly 1, 2 or 3, and its normalised values hold one value
// per distinct count. log1p is most of the time of the CPU's map (100,000
// cells: 1.0 of 1.4 s), so each row computes it once per distinct value.
// Direct-mapped on the float's bits (so -0 and 0 stay apart); forget() at
// each row. The same f of the same float gives the same bits as without it.
template <class F>
class RowMemo {
 public:
  explicit RowMemo(F f) : f_(f) {}
  void forget() { valid_ = 0; }
  double operator()(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const int slot = int((bits * 0x9e3779b1u) >> (32 - kSlotBits));
    if ((valid_ >> slot & 1u) && key_[slot] == bits) return value_[slot];
    const double v = f_(x);
    key_[slot] = bits;
    value_[slot] = v;
    valid_ |= uint64_t(1) << slot;
    return v;
  }

 private:
  static constexpr int kSlotBits = 6;  // 64 slots: one bit each in valid_
  F f_;
  uint64_t valid_ = 0;
  uint32_t key_[1 << kSlotBits];
  double value_[1 << kSlotBits];
};
template <class F>
RowMemo<F> row_memo(F f) {
  return RowMemo<F>(f);
}

// Every kernel shares the shard among host threads: per-cell work by ranges
// of rows, per-gene sums by ranges of genes (csr_ranges.h), so each result is
// the same bits whatever the number of threads.
class CpuPipelineKernels : public PipelineKernels {
 public:
  void map_values(const CsrView& a, const float* in, float* out, const ValueMap& m) override {
    for_row_ranges(a, [&](int64_t r0, int64_t r1) {
      double rf = 1.0;
      const auto map_one = [&](float x) {
        const double v = apply_op(double(x) * rf, m);
        return m.float_after_op ? double(float(v)) : v;
      };
      auto remembered = row_memo(map_one);  // with an op: a product costs less than a look-up
      for (int64_t r = r0; r < r1; ++r) {
        rf = m.row_factor ? m.row_factor[r] : 1.0;
        remembered.forget();
        for (int64_t k = a.indptr[r]; k < a.indptr[r + 1]; ++k) {
          // Genes only for per-gene maps: a row-only map may come without indices.
          double v = m.op == ValueMap::Op::None ? map_one(in[k]) : remembered(in[k]);
          if (m.col_factor) v *= m.col_factor[a.indices[k]];
          if (m.col_offset) v += m.col_offset[a.indices[k]];
          out[k] = float(std::min(std::max(v, m.lo), m.hi));
        }
      }
    });
  }

  void col_moments(const CsrView& a, const float* values, const MomentOptions& o,
                   ColumnMoments out) override {
    for_gene_ranges(a, [&](int32_t g0, int32_t g1) {
      for (int64_t r = 0; r < a.n_rows; ++r)
        for (int64_t k = first_at_or_after(a, r, g0); k < a.indptr[r + 1] && a.indices[k] < g1; ++k) {
          int32_t g = a.indices[k];
          double f = o.expm1 ? std::expm1(double(values[k])) : double(values[k]);
          if (o.clip) f = std::min(f, o.clip[g]);
          out.sum[g] += f;
          out.sum_sq[g] += f * f;
          out.n_positive[g] += f > 0 ? 1.0 : 0.0;
        }
    });
  }

  void row_subset_sums(const CsrView& a, const float* values, const uint32_t* bits, int n_subsets,
                       double* out) override {
    for_row_ranges(a, [&](int64_t r0, int64_t r1) {
      std::vector<double> acc(static_cast<size_t>(n_subsets));
      for (int64_t r = r0; r < r1; ++r) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t k = a.indptr[r]; k < a.indptr[r + 1]; ++k) {
          uint32_t b = bits[a.indices[k]];
          for (int s = 0; b && s < n_subsets; ++s, b >>= 1)
            if (b & 1u) acc[size_t(s)] += double(values[k]);
        }
        for (int s = 0; s < n_subsets; ++s) out[int64_t(s) * a.n_rows + r] = acc[size_t(s)];
      }
    });
  }

  void row_top_sums(const CsrView& a, const float* values, const std::vector<int>& ns,
                    double* out) override {
    for_row_ranges(a, [&](int64_t r0, int64_t r1) {
      std::vector<float> row;
      for (int64_t r = r0; r < r1; ++r) {
        row.assign(values + a.indptr[r], values + a.indptr[r + 1]);
        std::sort(row.begin(), row.end(), std::greater<float>());
        double acc = 0;
        size_t taken = 0;
        for (size_t j = 0; j < ns.size(); ++j) {
          size_t upto = std::min(row.size(), size_t(ns[j]));
          for (; taken < upto; ++taken) acc += double(row[taken]);
          out[int64_t(j) * a.n_rows + r] = acc;
        }
      }
    });
  }

  void flag_dominant_genes(const CsrView& a, const float* values, const double* row_total,
                           double fraction, double* flags) override {
    for_gene_ranges(a, [&](int32_t g0, int32_t g1) {
      for (int64_t r = 0; r < a.n_rows; ++r) {
        double limit = fraction * row_total[r];
        for (int64_t k = first_at_or_after(a, r, g0); k < a.indptr[r + 1] && a.indices[k] < g1; ++k)
          if (double(values[k]) > limit) flags[a.indices[k]] = 1.0;
      }
    });
  }

  void gram(const CsrView& a, const float* values, double* g) override { sparse_gram(a, values, g); }

  void add_outer_products(int, double* a, int64_t n, double scale,
                          const std::vector<OuterProduct>& terms) override {
    parallel_ranges(size_t(n), cpu_pieces(n * n, 1 << 18), [&](size_t j0, size_t j1) {
      for (int64_t j = int64_t(j0); j < int64_t(j1); ++j)
        for (int64_t i = 0; i < n; ++i) {
          double v = scale * a[j * n + i];
          for (const OuterProduct& t : terms) v += t.coef * t.x[i] * t.y[j];
          a[j * n + i] = v;
        }
    });
  }

  void top_eigen(int, double* a, int64_t n, int k, double* values, double* vectors) override {
    symmetric_top_eigen(a, n, k, values, vectors);
  }

  void multiply(const CsrView& a, const float* values, const float* v, int k,
                const double* shift, double* out, int64_t ld_out) override {
    sparse_project(a, values, v, k, shift, out, ld_out);
  }
};

}  // namespace

PipelineKernels& cpu_pipeline_kernels() {
  static CpuPipelineKernels kernels;
  return kernels;
}

}  // namespace cellshard
