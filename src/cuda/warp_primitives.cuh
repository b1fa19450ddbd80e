// Warp-level helpers for kernels that give one warp to each row: which warp
// and lane a thread is, and sums / prefix sums over the 32 lanes.
#pragma once
#include <cstdint>

namespace cellshard {

constexpr unsigned kFullWarp = 0xffffffffu;

__device__ __forceinline__ int lane_id() { return int(threadIdx.x & 31u); }

// Index of this thread's warp in the grid, and the number of warps in the grid.
__device__ __forceinline__ int64_t global_warp_id() {
  return (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
}
__device__ __forceinline__ int64_t grid_warp_count() {
  return (int64_t(gridDim.x) * blockDim.x) >> 5;
}

// Index of this thread in the grid, and the number of threads in the grid.
__device__ __forceinline__ int64_t global_thread_id() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_thread_count() {
  return int64_t(gridDim.x) * blockDim.x;
}

// Sum of x over the warp, valid in lane 0. All 32 lanes must call it.
template <class T>
__device__ __forceinline__ T warp_sum(T x) {
  for (int d = 16; d > 0; d >>= 1) x += __shfl_down_sync(kFullWarp, x, d);
  return x;
}

// Sum of x over a block of `warps` full warps, valid in thread 0: each warp's
// sum, then the warps' sums in warp order (the same bits every run). Every
// thread of the block must call it, once per kernel.
template <int warps>
__device__ __forceinline__ double block_sum(double x) {
  __shared__ double part[warps];
  x = warp_sum(x);
  if (lane_id() == 0) part[threadIdx.x >> 5] = x;
  __syncthreads();
  double total = 0.0;
  if (threadIdx.x == 0)
    for (int w = 0; w < warps; ++w) total += part[w];
  return total;
}

// Inclusive prefix sum of x over the lanes (an integer type). All 32 lanes
// must call it.
template <class T>
__device__ __forceinline__ T warp_inclusive_sum(T x) {
  const int lane = lane_id();
  for (int d = 1; d < 32; d <<= 1) {
    const T y = __shfl_up_sync(kFullWarp, x, d);
    if (lane >= d) x += y;
  }
  return x;
}

}  // namespace cellshard
