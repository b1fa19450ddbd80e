// Per-cell results (QC columns, size factors, the filter's mask) as R vectors
// whose values live in C++ memory, outside R's heap (ALTREP). A vector of
// 11.4 million doubles allocated by R counts towards R's heap and sets off
// full garbage collections, each of which walks every object in the session
// (0.6 s with 11.4M cell names); these do not. To R they are ordinary double,
// integer or logical vectors: arithmetic reads them in place, subsetting and
// copies give more of them, saveRDS writes their values.
//
// R is not told of this memory: a dropped vector's values are freed when R
// next collects, whenever that is.
#include "r_host_vector.h"

#include <R_ext/Altrep.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace cellshard {

namespace {

R_altrep_class_t real_class, int_class, lgl_class;

// The values; an int for integers and logicals (R's layout for both).
struct Values {
  HostDoubles reals;
  HostInts ints;
};

Values* values_of(SEXP x) { return static_cast<Values*>(R_ExternalPtrAddr(R_altrep_data1(x))); }

bool is_real(SEXP x) { return TYPEOF(x) == REALSXP; }

SEXP wrap(R_altrep_class_t cls, std::unique_ptr<Values> v) {
  return owning_altrep(cls, std::move(v), R_NilValue);
}

R_altrep_class_t class_like(SEXP x) {
  return TYPEOF(x) == REALSXP ? real_class : TYPEOF(x) == INTSXP ? int_class : lgl_class;
}

R_xlen_t length_method(SEXP x) {
  const Values* v = values_of(x);
  return R_xlen_t(is_real(x) ? v->reals.size() : v->ints.size());
}

void* dataptr_method(SEXP x, Rboolean) {
  Values* v = values_of(x);
  return is_real(x) ? static_cast<void*>(v->reals.data()) : static_cast<void*>(v->ints.data());
}

const void* dataptr_or_null_method(SEXP x) { return dataptr_method(x, FALSE); }

double real_elt(SEXP x, R_xlen_t i) { return values_of(x)->reals[size_t(i)]; }
int int_elt(SEXP x, R_xlen_t i) { return values_of(x)->ints[size_t(i)]; }

template <class T, class Vector>
R_xlen_t region(const Vector& v, R_xlen_t start, R_xlen_t n, T* buf) {
  const R_xlen_t m = std::max<R_xlen_t>(0, std::min<R_xlen_t>(n, R_xlen_t(v.size()) - start));
  std::copy(v.begin() + start, v.begin() + start + m, buf);
  return m;
}
R_xlen_t real_region(SEXP x, R_xlen_t s, R_xlen_t n, double* b) { return region(values_of(x)->reals, s, n, b); }
R_xlen_t int_region(SEXP x, R_xlen_t s, R_xlen_t n, int* b) { return region(values_of(x)->ints, s, n, b); }

// A copy is another vector in C++ memory (R's default would allocate on its heap).
// No C++ exception may leave a method (R calls them from C): on one (out of
// memory, no thread), null leaves the work to R.
SEXP duplicate_method(SEXP x, Rboolean) {
  std::unique_ptr<Values> v;
  try {
    v = std::make_unique<Values>(*values_of(x));
  } catch (const std::exception&) {
    return nullptr;
  }
  return wrap(class_like(x), std::move(v));
}

// x[i] for positive in-range indices (integer or double, 1-based) stays in
// C++ memory, gathered on host threads; anything else (NA, zero, negative,
// past the end) is left to R.
template <class Vector>
bool gather(const Vector& from, SEXP indx, Vector& to) {
  to.resize(size_t(XLENGTH(indx)));
  return for_each_position(indx, from.size(), [&](size_t k, size_t p) { to[k] = from[p]; });
}

SEXP extract_subset_method(SEXP x, SEXP indx, SEXP) {
  if (TYPEOF(indx) != INTSXP && TYPEOF(indx) != REALSXP) return nullptr;
  std::unique_ptr<Values> out;
  try {
    out = std::make_unique<Values>();
    const Values* v = values_of(x);
    if (!(is_real(x) ? gather(v->reals, indx, out->reals) : gather(v->ints, indx, out->ints)))
      return nullptr;
  } catch (const std::exception&) {
    return nullptr;
  }
  return wrap(class_like(x), std::move(out));
}

Rboolean inspect_method(SEXP x, int, int, int, void (*)(SEXP, int, int, int)) {
  Rprintf(" cellshard vector in C++ memory (%lld values)\n", (long long)length_method(x));
  return TRUE;
}

template <class Class>
void set_common(Class cls) {
  R_set_altrep_Length_method(cls, length_method);
  R_set_altrep_Inspect_method(cls, inspect_method);
  R_set_altrep_Duplicate_method(cls, duplicate_method);
  R_set_altvec_Dataptr_method(cls, dataptr_method);
  R_set_altvec_Dataptr_or_null_method(cls, dataptr_or_null_method);
  R_set_altvec_Extract_subset_method(cls, extract_subset_method);
}

}  // namespace

SEXP host_doubles(HostDoubles&& values) {
  auto v = std::make_unique<Values>();
  v->reals = std::move(values);
  return wrap(real_class, std::move(v));
}

SEXP host_ints(HostInts&& values) {
  auto v = std::make_unique<Values>();
  v->ints = std::move(values);
  return wrap(int_class, std::move(v));
}

SEXP host_logicals(HostInts&& values) {
  auto v = std::make_unique<Values>();
  v->ints = std::move(values);
  return wrap(lgl_class, std::move(v));
}

}  // namespace cellshard

// [[Rcpp::init]]
void cellshard_register_host_vectors(DllInfo* dll) {
  using namespace cellshard;
  real_class = R_make_altreal_class("cellshard_host_real", "cellshard", dll);
  set_common(real_class);
  R_set_altreal_Elt_method(real_class, real_elt);
  R_set_altreal_Get_region_method(real_class, real_region);
  int_class = R_make_altinteger_class("cellshard_host_int", "cellshard", dll);
  set_common(int_class);
  R_set_altinteger_Elt_method(int_class, int_elt);
  R_set_altinteger_Get_region_method(int_class, int_region);
  lgl_class = R_make_altlogical_class("cellshard_host_lgl", "cellshard", dll);
  set_common(lgl_class);
  R_set_altlogical_Elt_method(lgl_class, int_elt);
  R_set_altlogical_Get_region_method(lgl_class, int_region);
}
