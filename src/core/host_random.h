// Floating-point draws from Philox words, for the host side of the synthetic
// atlas (model parameters, per-cell library sizes). Host only: the device
// never sees these, so libm differences cannot split the backends.
#pragma once
#include <cmath>
#include <cstdint>

#include "philox.h"

namespace cellshard {

// The Philox block for counter (a, b, c, stream) under a 64-bit seed.
inline Philox4x32::Words host_words(uint64_t seed, uint32_t a, uint32_t b, uint32_t c,
                                    uint32_t stream) {
  return Philox4x32::generate(Philox4x32::Words{{a, b, c, stream}}, uint32_t(seed),
                              uint32_t(seed >> 32));
}

// A uniform double in (0, 1) from 53 bits of two words (never 0, so log is safe).
inline double uniform_open(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (uint64_t(hi) << 21) ^ (uint64_t(lo) >> 11);
  return (double(bits) + 0.5) * (1.0 / 9007199254740992.0);
}

// A standard normal from one Philox block (Box-Muller, cosine branch).
inline double normal_from(const Philox4x32::Words& x) {
  const double u1 = uniform_open(x.w[0], x.w[1]), u2 = uniform_open(x.w[2], x.w[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// An integer in [0, n) from one word (multiply-high; bias below n / 2^32).
inline uint32_t below(uint32_t word, uint32_t n) { return uint32_t((uint64_t(word) * n) >> 32); }

}  // namespace cellshard
