// Phase times of col_moments_on_device (moments_kernels.cu), for benchmarks:
// recorded only while CELLSHARD_MOMENTS_PROFILE is set (each phase then ends
// with a synchronisation, which costs a little).
#pragma once

namespace cellshard {

struct MomentPhases {
  double scales = 0;  // pass 1 (gene exponents, range starts) and the scale kernel, seconds
  double sums = 0;    // pass 2 (the fixed-point sums), with range starts of later row chunks
  double finish = 0;  // the per-gene conversion to float64
};

// The phases of the last call on the calling thread.
MomentPhases last_moment_phases();

}  // namespace cellshard
