// Four doubles as one value (GCC / Clang vector extensions): the compiler
// emits AVX where the function is compiled for it and pairs of SSE2 (or
// NEON) instructions elsewhere, with no intrinsics and no build flags.
#pragma once
#include <cstring>

// These helpers are inline and never cross a library boundary, so GCC's note
// that 32-byte vectors are passed differently with and without AVX is moot.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace cellshard {

typedef double double4 __attribute__((vector_size(32)));

inline double4 load4(const double* p) {
  double4 v;
  std::memcpy(&v, p, sizeof v);  // unaligned load
  return v;
}

inline void store4(double* p, double4 v) { std::memcpy(p, &v, sizeof v); }

inline double4 splat4(double x) { return double4{x, x, x, x}; }

inline double sum4(double4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

}  // namespace cellshard
