// PCA scores as an R numeric matrix whose values stay on the devices (ALTREP):
// computePCA returns at once, and a 1.4M-cell x 100 matrix (1.1 GB) is copied
// into R memory only when R first reads it (then once, kept in data2). To R
// it is an ordinary double matrix: attributes, subsetting, saveRDS (which
// writes the values) all work as usual.
#include <Rcpp.h>
#include <R_ext/Altrep.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "r_handle.h"

using namespace cellshard;

namespace {

R_altrep_class_t scores_class;

// data1: list(dense handle, length as a double); data2: the values once read.
SEXP handle_of(SEXP x) { return VECTOR_ELT(R_altrep_data1(x), 0); }

R_xlen_t scores_length(SEXP x) { return R_xlen_t(REAL(VECTOR_ELT(R_altrep_data1(x), 1))[0]); }

// The values in R memory, read from the devices the first time. Errors
// (device data released) become R errors once every C++ object is gone.
SEXP materialize(SEXP x) {
  SEXP have = R_altrep_data2(x);
  if (have != R_NilValue) return have;
  SEXP v = PROTECT(Rf_allocVector(REALSXP, scores_length(x)));
  char message[1024] = "";
  {  // C++ objects end here, before any R error jumps over them
    std::string err;
    try {
      get_dense(handle_of(x))->read_all(REAL(v));
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (err.rfind("[cellshard:stale]", 0) == 0)
      err = "these PCA scores' device data is gone (freed before they were read into R "
            "memory): run computePCA() again";
    std::snprintf(message, sizeof message, "%s", err.c_str());
  }
  if (message[0]) {
    UNPROTECT(1);
    Rf_error("%s", message);
  }
  R_set_altrep_data2(x, v);
  UNPROTECT(1);
  return v;
}

R_xlen_t length_method(SEXP x) { return scores_length(x); }

void* dataptr_method(SEXP x, Rboolean) { return REAL(materialize(x)); }

const void* dataptr_or_null_method(SEXP x) {
  SEXP have = R_altrep_data2(x);
  return have == R_NilValue ? nullptr : REAL(have);
}

double elt_method(SEXP x, R_xlen_t i) { return REAL(materialize(x))[i]; }

R_xlen_t get_region_method(SEXP x, R_xlen_t start, R_xlen_t n, double* buf) {
  const double* v = REAL(materialize(x));
  const R_xlen_t m = std::min(n, scores_length(x) - start);
  std::copy(v + start, v + start + m, buf);
  return m;
}

// A copy holds its own reference to the device data (which never changes
// there), so releasing the original, which reads it into R memory first,
// leaves the copy usable. Once read, R copies the values as for any vector.
SEXP new_scores(SEXP handle, double length);

SEXP duplicate_method(SEXP x, Rboolean) {
  if (R_altrep_data2(x) != R_NilValue) return nullptr;
  DenseShardsPtr d;
  try {
    d = get_dense(handle_of(x));
  } catch (const std::exception&) {
    return nullptr;  // released: R's own copy reads it, which says so
  }
  SEXP handle = PROTECT(wrap_dense(std::move(d)));
  SEXP copy = new_scores(handle, double(scores_length(x)));
  UNPROTECT(1);
  return copy;
}

Rboolean inspect_method(SEXP x, int, int, int, void (*)(SEXP, int, int, int)) {
  Rprintf(" cellshard PCA scores (%s)\n",
          R_altrep_data2(x) == R_NilValue ? "on the devices" : "read into R memory");
  return TRUE;
}

SEXP new_scores(SEXP handle, double length) {
  SEXP data1 = PROTECT(Rf_allocVector(VECSXP, 2));
  SET_VECTOR_ELT(data1, 0, handle);
  SET_VECTOR_ELT(data1, 1, Rf_ScalarReal(length));
  SEXP x = R_new_altrep(scores_class, data1, R_NilValue);
  UNPROTECT(1);
  return x;
}

}  // namespace

// [[Rcpp::init]]
void cellshard_register_scores(DllInfo* dll) {
  scores_class = R_make_altreal_class("cellshard_scores", "cellshard", dll);
  R_set_altrep_Length_method(scores_class, length_method);
  R_set_altrep_Inspect_method(scores_class, inspect_method);
  R_set_altrep_Duplicate_method(scores_class, duplicate_method);
  R_set_altvec_Dataptr_method(scores_class, dataptr_method);
  R_set_altvec_Dataptr_or_null_method(scores_class, dataptr_or_null_method);
  R_set_altreal_Elt_method(scores_class, elt_method);
  R_set_altreal_Get_region_method(scores_class, get_region_method);
}

// An n_rows x k double matrix over a dense handle (values left on the devices).
// [[Rcpp::export]]
SEXP cs_scores_matrix(SEXP handle) {
  CS_R_BEGIN
  DenseShardsPtr d = get_dense(handle);
  const double n = double(d->n_rows()), k = double(d->n_cols);
  if (n > INT32_MAX || k > INT32_MAX)
    throw Error("more than 2^31 - 1 cells cannot be represented in an R matrix");
  SEXP x = PROTECT(new_scores(handle, n * k));
  SEXP dim = PROTECT(Rf_allocVector(INTSXP, 2));
  INTEGER(dim)[0] = int(n);
  INTEGER(dim)[1] = int(k);
  Rf_setAttrib(x, R_DimSymbol, dim);
  UNPROTECT(2);
  return x;
  CS_R_END
}

// The scores object inside x, or null: attributes<- and friends wrap an
// ALTREP vector in R's own wrapper (whose data1 is the vector wrapped).
SEXP scores_inside(SEXP x) {
  for (int depth = 0; depth < 16 && TYPEOF(x) == REALSXP && ALTREP(x); ++depth) {
    if (R_altrep_inherits(x, scores_class)) return x;
    x = R_altrep_data1(x);
  }
  return nullptr;
}

// Whether x is a scores matrix whose values are still only on the devices.
// [[Rcpp::export]]
bool cs_scores_on_device(SEXP x) {
  SEXP s = scores_inside(x);
  return s && R_altrep_data2(s) == R_NilValue;
}

// Reads x's values into R memory (if not yet) and drops its reference to the
// device data, which goes when no copy of x still holds one. Other objects
// are left alone.
// [[Rcpp::export]]
void cs_scores_to_host(SEXP x) {
  SEXP s = scores_inside(x);
  if (!s) return;
  materialize(s);
  free_dense(handle_of(s));
}
