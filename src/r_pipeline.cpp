// Rcpp glue for the pipeline passes (core/pipeline_passes.h). Orientation:
// the core is cells x genes, so "row" arrays are per cell and "col" per gene.
#include <Rcpp.h>

#include <cmath>

#include "core/pipeline_passes.h"
#include "r_handle.h"
#include "r_progress.h"

using namespace cellshard;

namespace {

// A host array of `n` doubles from an R numeric vector, or null for NULL.
const double* optional_vector(SEXP x, int64_t n, const char* what, std::vector<double>& keep) {
  if (Rf_isNull(x)) return nullptr;
  Rcpp::NumericVector v(x);
  if (v.size() != n)
    throw Error(std::string("internal: ") + what + " has " + std::to_string(v.size()) +
                " entries, expected " + std::to_string(n));
  keep.assign(v.begin(), v.end());
  return keep.data();
}

ValueMap::Op parse_op(const std::string& op) {
  if (op == "none") return ValueMap::Op::None;
  if (op == "log1p") return ValueMap::Op::Log1p;
  if (op == "expm1") return ValueMap::Op::Expm1;
  throw Error("internal: unknown value operation " + op);
}

}  // namespace

// [[Rcpp::export]]
SEXP cs_map_layer(SEXP handle, SEXP row_factor, std::string op, double log_divisor,
                  SEXP col_factor, SEXP col_offset, double lo, double hi) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  std::vector<double> rf, cf, co;
  ValueMap map;
  map.row_factor = optional_vector(row_factor, m->n_rows(), "row_factor", rf);
  map.op = parse_op(op);
  map.log_divisor = log_divisor;
  map.col_factor = optional_vector(col_factor, m->n_cols(), "col_factor", cf);
  map.col_offset = optional_vector(col_offset, m->n_cols(), "col_offset", co);
  map.lo = lo;
  map.hi = hi;
  return wrap_matrix(map_layer(*m, map));
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::List cs_column_moments(SEXP handle, bool expm1, SEXP clip) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  std::vector<double> clip_values;
  MomentOptions options;
  options.expm1 = expm1;
  options.clip = optional_vector(clip, m->n_cols(), "clip", clip_values);
  size_t n = size_t(m->n_cols());
  std::vector<double> sum(n), sum_sq(n);
  std::vector<int64_t> pos(n);
  column_moments(*m, options, sum.data(), sum_sq.data(), pos.data());
  return Rcpp::List::create(Rcpp::_["sum"] = Rcpp::wrap(sum), Rcpp::_["sum_sq"] = Rcpp::wrap(sum_sq),
                            Rcpp::_["n_positive"] = Rcpp::NumericVector(pos.begin(), pos.end()));
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::NumericMatrix cs_subset_sums(SEXP handle, Rcpp::NumericVector gene_bits, int n_subsets) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  std::vector<uint32_t> bits(gene_bits.begin(), gene_bits.end());
  Rcpp::NumericMatrix out(int(m->n_rows()), n_subsets);
  subset_sums(*m, bits, n_subsets, out.begin());
  return out;
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::NumericMatrix cs_top_sums(SEXP handle, Rcpp::IntegerVector ns) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  std::vector<int> n(ns.begin(), ns.end());
  Rcpp::NumericMatrix out(int(m->n_rows()), int(n.size()));
  top_sums(*m, n, out.begin());
  return out;
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::LogicalVector cs_dominant_genes(SEXP handle, Rcpp::NumericVector row_total, double fraction) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  CS_CHECK(row_total.size() == m->n_rows(), "internal: one total per cell");
  std::vector<uint8_t> flags = dominant_genes(*m, row_total.begin(), fraction);
  return Rcpp::LogicalVector(flags.begin(), flags.end());
  CS_R_END
}

// `progress`: NULL, or an R function(phase, done, total) (r_progress.h).
// [[Rcpp::export]]
Rcpp::List cs_covariance_eigen(SEXP handle, Rcpp::NumericVector background,
                               Rcpp::NumericVector col_sums, bool zero_center, int k,
                               SEXP progress = R_NilValue) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  std::vector<double> b(background.begin(), background.end());
  std::vector<double> sums(col_sums.begin(), col_sums.end());
  Eigenpairs e;
  run_with_progress(progress, [&] { e = covariance_eigen(*m, b, sums, zero_center, k); });
  CS_CHECK(e.vectors.size() == size_t(m->n_cols()) * size_t(k),
           "internal: the eigenvectors do not fill genes x components");
  Rcpp::NumericMatrix vectors(Rcpp::no_init(int(m->n_cols()), k));  // filled whole next
  std::copy(e.vectors.begin(), e.vectors.end(), vectors.begin());
  return Rcpp::List::create(
      Rcpp::_["values"] = Rcpp::wrap(e.values), Rcpp::_["vectors"] = vectors,
      Rcpp::_["shift"] = Rcpp::wrap(e.shift),
      Rcpp::_["seconds"] = Rcpp::NumericVector::create(Rcpp::_["gram"] = e.gram_seconds,
                                                       Rcpp::_["eigen"] = e.eigen_seconds));
  CS_R_END
}

// [[Rcpp::export]]
SEXP cs_multiply(SEXP handle, Rcpp::NumericMatrix v, SEXP shift, SEXP progress = R_NilValue) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  CS_CHECK(v.nrow() == m->n_cols(), "internal: V must have one row per gene");
  std::vector<double> shift_values;
  const double* shift_ptr = optional_vector(shift, v.ncol(), "shift", shift_values);
  // V is read in place (R keeps it for the call; the work thread only reads it).
  const double* v_values = v.begin();
  const int k = v.ncol();
  DenseShardsPtr out;
  run_with_progress(progress, [&] { out = multiply_matrix(*m, v_values, k, shift_ptr); });
  return wrap_dense(out);
  CS_R_END
}
