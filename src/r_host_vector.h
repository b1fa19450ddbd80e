// R vectors whose values stay in C++ memory, outside R's heap (ALTREP):
// r_host_vector.cpp says why. They take the values over.
#pragma once
#include <Rinternals.h>
#include <R_ext/Altrep.h>  // after Rinternals.h, whose SEXP it uses

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "core/parallel_for.h"

namespace cellshard {

// An allocator whose new elements are left uninitialised: a vector of
// millions of values is then first written (and its pages first faulted
// in) by the host threads that compute it, not zero-filled by one thread.
template <class T>
struct NoInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  NoInitAllocator() noexcept = default;
  template <class U>
  NoInitAllocator(const NoInitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using HostDoubles = std::vector<double, NoInitAllocator<double>>;
using HostInts = std::vector<int, NoInitAllocator<int>>;

// A new ALTREP vector of class `cls` whose data1 is an external pointer that
// owns `state` (deleted when R collects the vector) and keeps `keep` alive
// (R_NilValue: nothing); data2 starts as R_NilValue.
template <class T>
void delete_altrep_state(SEXP ptr) {
  delete static_cast<T*>(R_ExternalPtrAddr(ptr));
  R_ClearExternalPtr(ptr);
}
template <class T>
SEXP owning_altrep(R_altrep_class_t cls, std::unique_ptr<T> state, SEXP keep) {
  SEXP ptr = PROTECT(R_MakeExternalPtr(state.get(), R_NilValue, keep));
  state.release();
  R_RegisterCFinalizerEx(ptr, delete_altrep_state<T>, TRUE);
  SEXP x = R_new_altrep(cls, ptr, R_NilValue);
  UNPROTECT(1);
  return x;
}

// The positions of R's index `indx` (integer or double, 1-based) into a
// vector of `len` values, for the vectors' Extract_subset methods: calls
// put(k, p) with the 0-based position p of each indx[k], on host threads.
// False when one is NA, not positive or past the end (R then subsets).
template <class Put>
bool for_each_position(SEXP indx, size_t len, Put put) {
  const size_t n = size_t(XLENGTH(indx));
  const int* as_int = TYPEOF(indx) == INTSXP ? INTEGER(indx) : nullptr;
  const double* as_real = as_int ? nullptr : REAL(indx);
  std::atomic<bool> in_range{true};
  parallel_items(n, [&](size_t begin, size_t end) {
    for (size_t k = begin; k < end; ++k) {
      const double i = as_int ? (as_int[k] == NA_INTEGER ? 0.0 : double(as_int[k])) : as_real[k];
      if (!(i >= 1 && i <= double(len))) {  // NaN fails too
        in_range = false;
        return;
      }
      put(k, size_t(i) - 1);
    }
  });
  return in_range;
}

SEXP host_doubles(HostDoubles&& values);
SEXP host_ints(HostInts&& values);
SEXP host_logicals(HostInts&& values);  // TRUE 1, FALSE 0, NA NA_INTEGER

}  // namespace cellshard
