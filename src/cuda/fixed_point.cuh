// Exact, order-free sums in fixed point: values are rounded once to integers
// (multiples of a power of two) and added with integer atomics, which give
// the same bits whatever order the threads run in. Three widths:
//   - a 64-bit sum in shared memory, held as two 32-bit words (the GPU has
//     native 32-bit shared-memory atomic adds; its 64-bit ones are
//     compare-and-swap loops), with the carry of the low word passed on;
//   - a 128-bit sum in global memory, two 64-bit words, the same way;
//   - the 128-bit sum read back as a double, rounded once.
#pragma once
#include <cstdint>

namespace cellshard {

// Adds v to the 64-bit sum held as the words (hi, lo) in shared memory.
__device__ __forceinline__ void add_fixed64(unsigned* lo, int* hi, long long v) {
  const unsigned v_lo = unsigned((unsigned long long)v);
  const unsigned old = atomicAdd(lo, v_lo);
  const int carry = unsigned(old + v_lo) < old ? 1 : 0;
  const int v_hi = int(v >> 32) + carry;
  if (v_hi != 0) atomicAdd(hi, v_hi);
}

// The 64-bit sum of the words (hi, lo).
__device__ __forceinline__ long long join_fixed64(int hi, unsigned lo) {
  return (long long)(((unsigned long long)(unsigned)hi << 32) | lo);
}

// Adds v to the 128-bit two's-complement sum at sum[0] (low word), sum[1] (high word).
__device__ __forceinline__ void add_fixed128(unsigned long long* sum, long long v) {
  const unsigned long long u = (unsigned long long)v;
  const unsigned long long old = atomicAdd(sum, u);
  const long long hi = (v < 0 ? -1 : 0) + (old + u < old ? 1 : 0);
  if (hi != 0) atomicAdd(sum + 1, (unsigned long long)hi);
}

// The 128-bit two's-complement integer (hi, lo) as a double, rounded to nearest.
__device__ inline double fixed128_to_double(unsigned long long lo, unsigned long long hi) {
  const bool negative = (long long)hi < 0;
  if (negative) {  // magnitude: -(hi, lo)
    lo = ~lo + 1;
    hi = ~hi + (lo == 0 ? 1 : 0);
  }
  double m;
  if (hi == 0) {
    m = __ull2double_rn(lo);
  } else {
    // The top 64 bits, with any lower bit that is set folded into the last
    // one (below the rounding position, so rounding to 53 bits is unchanged).
    const int lz = __clzll((long long)hi);
    const unsigned long long top = lz == 0 ? hi : (hi << lz) | (lo >> (64 - lz));
    const unsigned long long rest = lo << lz;
    m = ldexp(__ull2double_rn(top | (rest != 0 ? 1ull : 0ull)), 64 - lz);
  }
  return negative ? -m : m;
}

// 2^-e as a double, for e in [-1023, 1074] (subnormal above 1022): a
// multiplication by it is exact whenever the product is a normal number.
__device__ __forceinline__ double inverse_power_of_two(int e) {
  const int k = -e;
  return __longlong_as_double(k >= -1022 ? (long long)(k + 1023) << 52
                                         : (long long)(1ull << (k + 1074)));
}

}  // namespace cellshard
