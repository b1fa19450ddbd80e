// Cell names that subset without copying strings (ALTREP). A filter of 1.43M
// cells subsets the cell names twice (colData's row names and the assay's
// dimnames); R copies the 1.43M string pointers each time, one
// SET_STRING_ELT (with its write barrier) per name: ~17 ms apiece. These
// vectors hold the full names once, as an ordinary R character vector, and a
// subset is only a vector of positions into it, gathered in C++ memory on
// host threads. To R they are ordinary character vectors: STRING_ELT reads
// the full names in place; code that wants the array of strings (or to change
// one) gets a plain copy, made once and kept; saveRDS writes a plain vector.
#include <Rcpp.h>
#include <R_ext/Altrep.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "r_host_vector.h"

namespace cellshard {

namespace {

R_altrep_class_t names_class;

// Positions (0-based) into the full names; none: the full names themselves.
struct Names {
  std::shared_ptr<const HostInts> at;
};

// data1: an external pointer to Names whose protected value is the full
// names (a plain STRSXP); data2: the plain copy once one was asked for.
Names* names_of(SEXP x) { return static_cast<Names*>(R_ExternalPtrAddr(R_altrep_data1(x))); }
SEXP full_of(SEXP x) { return R_ExternalPtrProtected(R_altrep_data1(x)); }
SEXP plain_of(SEXP x) { return R_altrep_data2(x); }

SEXP make_names(SEXP full, std::shared_ptr<const HostInts> at) {
  auto n = std::make_unique<Names>();
  n->at = std::move(at);
  return owning_altrep(names_class, std::move(n), full);
}

R_xlen_t length_method(SEXP x) {
  const Names* n = names_of(x);
  return n->at ? R_xlen_t(n->at->size()) : XLENGTH(full_of(x));
}

// The CHARSXP lives in the full names, which this vector keeps alive.
SEXP elt_method(SEXP x, R_xlen_t i) {
  if (plain_of(x) != R_NilValue) return STRING_ELT(plain_of(x), i);
  const Names* n = names_of(x);
  return STRING_ELT(full_of(x), n->at ? R_xlen_t((*n->at)[size_t(i)]) : i);
}

// The plain copy, made on first need; from then on it is the vector's value.
SEXP plain(SEXP x) {
  if (plain_of(x) != R_NilValue) return plain_of(x);
  const R_xlen_t len = length_method(x);
  SEXP out = PROTECT(Rf_allocVector(STRSXP, len));
  for (R_xlen_t i = 0; i < len; ++i) SET_STRING_ELT(out, i, elt_method(x, i));
  R_set_altrep_data2(x, out);
  UNPROTECT(1);
  return out;
}

void* dataptr_method(SEXP x, Rboolean) { return static_cast<void*>(STRING_PTR(plain(x))); }

const void* dataptr_or_null_method(SEXP x) {
  if (plain_of(x) != R_NilValue) return STRING_PTR_RO(plain_of(x));
  if (!names_of(x)->at) return STRING_PTR_RO(full_of(x));
  return nullptr;
}

void set_elt_method(SEXP x, R_xlen_t i, SEXP v) { SET_STRING_ELT(plain(x), i, v); }

// x[i] for positive in-range indices (integer or double, 1-based): the
// positions composed, no string touched. Anything else, or a vector that has
// a plain copy (which may have been changed), is left to R. No C++ exception
// may leave a method (R calls them from C): on one, null leaves it to R.
SEXP extract_subset_method(SEXP x, SEXP indx, SEXP) {
  if (plain_of(x) != R_NilValue || (TYPEOF(indx) != INTSXP && TYPEOF(indx) != REALSXP)) return nullptr;
  const Names* from = names_of(x);
  std::shared_ptr<HostInts> at;
  try {
    const int* base = from->at ? from->at->data() : nullptr;
    at = std::make_shared<HostInts>(size_t(XLENGTH(indx)));
    int* to = at->data();
    if (!for_each_position(indx, size_t(length_method(x)),
                           [&](size_t k, size_t p) { to[k] = base ? base[p] : int(p); }))
      return nullptr;
  } catch (const std::exception&) {
    return nullptr;
  }
  return make_names(full_of(x), std::move(at));
}

// A copy shares the full names and the positions, which never change; a
// vector with a plain copy is copied by R.
SEXP duplicate_method(SEXP x, Rboolean) {
  if (plain_of(x) != R_NilValue) return nullptr;
  return make_names(full_of(x), names_of(x)->at);
}

Rboolean inspect_method(SEXP x, int, int, int, void (*)(SEXP, int, int, int)) {
  Rprintf(" cellshard names (%lld of %lld full names%s)\n", (long long)length_method(x),
          (long long)XLENGTH(full_of(x)), plain_of(x) != R_NilValue ? ", with a plain copy" : "");
  return TRUE;
}

}  // namespace

}  // namespace cellshard

// A character vector with the values of `names` whose subsets copy no strings
// (above); `names` itself when it has attributes or is one of these already.
// [[Rcpp::export]]
SEXP cs_lazy_names(SEXP names) {
  using namespace cellshard;
  if (TYPEOF(names) != STRSXP) Rcpp::stop("internal: names must be a character vector");
  if (ATTRIB(names) != R_NilValue || XLENGTH(names) > R_xlen_t(INT32_MAX) ||
      (ALTREP(names) && R_altrep_inherits(names, names_class)))
    return names;
  return make_names(names, nullptr);
}

// Whether x is one of these vectors and has made its plain copy (for tests).
// [[Rcpp::export]]
Rcpp::LogicalVector cs_names_state(SEXP x) {
  using namespace cellshard;
  const bool lazy = ALTREP(x) && R_altrep_inherits(x, names_class);
  return Rcpp::LogicalVector::create(Rcpp::_["lazy"] = lazy,
                                     Rcpp::_["plain_copy"] = lazy && plain_of(x) != R_NilValue);
}

// [[Rcpp::init]]
void cellshard_register_names(DllInfo* dll) {
  using namespace cellshard;
  names_class = R_make_altstring_class("cellshard_names", "cellshard", dll);
  R_set_altrep_Length_method(names_class, length_method);
  R_set_altrep_Inspect_method(names_class, inspect_method);
  R_set_altrep_Duplicate_method(names_class, duplicate_method);
  R_set_altvec_Dataptr_method(names_class, dataptr_method);
  R_set_altvec_Dataptr_or_null_method(names_class, dataptr_or_null_method);
  R_set_altvec_Extract_subset_method(names_class, extract_subset_method);
  R_set_altstring_Elt_method(names_class, elt_method);
  R_set_altstring_Set_elt_method(names_class, set_elt_method);
}
