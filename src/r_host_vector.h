// R vectors whose values stay in C++ memory, outside R's heap (ALTREP):
// r_host_vector.cpp says why. They take the values over.
#pragma once
#include <Rinternals.h>

#include <memory>
#include <new>
#include <utility>
#include <vector>

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

SEXP host_doubles(HostDoubles&& values);
SEXP host_ints(HostInts&& values);
SEXP host_logicals(HostInts&& values);  // TRUE 1, FALSE 0, NA NA_INTEGER

}  // namespace cellshard
