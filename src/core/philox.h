// Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as
// easy as 1, 2, 3", SC 2011): a counter-based generator. The output is a pure
// function of a 64-bit key and a 128-bit counter, so any random number can be
// computed anywhere (a host thread, a GPU thread) without carrying state, and
// the same (key, counter) gives the same bits on every backend. Integer-only,
// usable from host and device code.
#pragma once
#include <cstdint>

#ifdef __CUDACC__
#define CS_HOST_DEVICE __host__ __device__
#else
#define CS_HOST_DEVICE
#endif

namespace cellshard {

struct Philox4x32 {
  struct Words {
    uint32_t w[4];
  };

  // Round multipliers and Weyl key increments of the reference design.
  static constexpr uint32_t kMul0 = 0xD2511F53u;
  static constexpr uint32_t kMul1 = 0xCD9E8D57u;
  static constexpr uint32_t kBump0 = 0x9E3779B9u;  // golden ratio
  static constexpr uint32_t kBump1 = 0xBB67AE85u;  // sqrt(3) - 1

  // The four output words for `counter` under `key` (ten rounds).
  CS_HOST_DEVICE static Words generate(Words counter, uint32_t key0, uint32_t key1) {
    uint32_t c0 = counter.w[0], c1 = counter.w[1], c2 = counter.w[2], c3 = counter.w[3];
    for (int round = 0; round < 10; ++round) {
      if (round > 0) {
        key0 += kBump0;
        key1 += kBump1;
      }
      // A 32 x 32 -> 64-bit product; nvcc emits one mul.wide.u32 for it.
      const uint64_t p0 = uint64_t(kMul0) * c0;
      const uint64_t p1 = uint64_t(kMul1) * c2;
      const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
      const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
      c0 = hi1 ^ c1 ^ key0;
      c1 = lo1;
      c2 = hi0 ^ c3 ^ key1;
      c3 = lo0;
    }
    return Words{{c0, c1, c2, c3}};
  }
};

}  // namespace cellshard
