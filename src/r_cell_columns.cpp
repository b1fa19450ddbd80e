// Per-cell columns computed on host threads into vectors outside R's heap
// (r_host_vector.h): the QC columns, normalizeTotal's size factors and the
// filter's mask. Built in R, each is one more allocation of millions of values
// that can set off a full garbage collection.
#include <Rcpp.h>

#include <cmath>
#include <string>

#include "core/operations.h"
#include "core/parallel_for.h"
#include "core/pipeline_passes.h"
#include "core/sharded_matrix.h"
#include "r_handle.h"
#include "r_host_vector.h"

using namespace cellshard;

namespace {

// fn(i) for every i in [0, n), in ranges on host threads.
template <class Fn>
void each_cell(size_t n, Fn fn) {
  parallel_items(n, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) fn(i);
  });
}

const double* doubles_of(SEXP x, R_xlen_t n, const char* what) {
  if (TYPEOF(x) != REALSXP || XLENGTH(x) != n)
    throw Error(std::string("internal: ") + what + " must be " + std::to_string(n) + " doubles");
  return REAL(x);
}

}  // namespace

// scuttle's per-cell QC columns in one call: n_positive (doubles, for the
// negative-value check) and `columns`, in this order: n_genes_by_counts,
// total_counts, their log1p, then for each gene subset its total, percent of
// the cell's total and log1p of its total. Names are given in R. With
// `genes`, also `genes`: the per-gene sum and n_positive (as cs_gene_stats),
// from the same pass over the values.
// [[Rcpp::export]]
Rcpp::List cs_cell_qc(SEXP handle, Rcpp::NumericVector gene_bits, int n_subsets, bool genes = false) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  const size_t n = size_t(m->n_rows());
  // One pass over the values for the totals, counts and subset sums.
  HostDoubles total(n), sums(n * size_t(n_subsets));  // sums: n x n_subsets, column-major
  std::vector<int64_t, NoInitAllocator<int64_t>> pos(n);
  std::vector<uint32_t> bits(gene_bits.begin(), gene_bits.end());
  std::vector<double> gene_sum(genes ? size_t(m->n_cols()) : 0);
  std::vector<int64_t> gene_pos(gene_sum.size());
  cell_qc(*m, bits, n_subsets, total.data(), pos.data(), sums.data(),
          genes ? GeneTotals{gene_sum.data(), gene_pos.data()} : GeneTotals{});
  HostDoubles n_positive(n), log1p_pos(n), log1p_total(n);
  HostInts n_genes(n);
  each_cell(n, [&](size_t i) {
    n_positive[i] = double(pos[i]);
    n_genes[i] = int(pos[i]);
    log1p_pos[i] = std::log1p(double(pos[i]));
    log1p_total[i] = std::log1p(total[i]);
  });
  Rcpp::List columns(3 + 3 * n_subsets + 1);
  columns[0] = host_ints(std::move(n_genes));
  columns[2] = host_doubles(std::move(log1p_pos));
  columns[3] = host_doubles(std::move(log1p_total));
  for (int k = 0; k < n_subsets; ++k) {
    const double* s = sums.data() + size_t(k) * n;
    HostDoubles sub(n), pct(n), log1p_sub(n);
    each_cell(n, [&](size_t i) {
      sub[i] = s[i];
      pct[i] = 100 * s[i] / total[i];  // NaN for an empty cell, as scuttle's 0/0
      log1p_sub[i] = std::log1p(s[i]);
    });
    columns[4 + 3 * k] = host_doubles(std::move(sub));
    columns[5 + 3 * k] = host_doubles(std::move(pct));
    columns[6 + 3 * k] = host_doubles(std::move(log1p_sub));
  }
  columns[1] = host_doubles(std::move(total));
  Rcpp::List out = Rcpp::List::create(Rcpp::_["n_positive"] = host_doubles(std::move(n_positive)),
                                      Rcpp::_["columns"] = columns);
  if (genes)
    out["genes"] = Rcpp::List::create(
        Rcpp::_["sum"] = Rcpp::wrap(gene_sum),
        Rcpp::_["n_positive"] = Rcpp::NumericVector(gene_pos.begin(), gene_pos.end()));
  return out;
  CS_R_END
}

// target / total per cell (target for a cell with no counts, which stays zero).
// [[Rcpp::export]]
SEXP cs_size_factors(SEXP totals, double target) {
  CS_R_BEGIN
  const R_xlen_t n = XLENGTH(totals);
  const double* t = doubles_of(totals, n, "totals");
  HostDoubles f(static_cast<size_t>(n));
  each_cell(size_t(n), [&](size_t i) { f[i] = std::isnan(t[i]) ? t[i] : target / (t[i] > 0 ? t[i] : 1); });
  return host_doubles(std::move(f));
  CS_R_END
}

// lo <= x <= hi per cell, for an integer or double x (NA stays NA).
// [[Rcpp::export]]
SEXP cs_in_range(SEXP x, double lo, double hi) {
  CS_R_BEGIN
  const R_xlen_t n = XLENGTH(x);
  HostInts keep(static_cast<size_t>(n));
  if (TYPEOF(x) == INTSXP) {
    const int* v = INTEGER(x);
    each_cell(size_t(n), [&](size_t i) {
      keep[i] = v[i] == NA_INTEGER ? NA_LOGICAL : (v[i] >= lo && v[i] <= hi);
    });
  } else {
    const double* v = doubles_of(x, n, "x");
    each_cell(size_t(n), [&](size_t i) {
      keep[i] = std::isnan(v[i]) ? NA_LOGICAL : (v[i] >= lo && v[i] <= hi);
    });
  }
  return host_logicals(std::move(keep));
  CS_R_END
}
