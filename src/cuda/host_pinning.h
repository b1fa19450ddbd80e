// Fresh page-locked host memory, made faster than cudaMallocHost (issue 7):
// out-of-core steps write their new layers back to pinned memory, and
// cudaMallocHost pinned it at 2.5 GB/s on the H100 machine (bench/pin_rate.cu:
// 8 GiB in 3.5 s, and cudaFreeHost 1.1 s), slower than the steps' own work.
#pragma once
#include <cstddef>

namespace cellshard {

// `bytes` of page-locked host memory visible to every GPU, or nullptr when
// it cannot be had (host memory short, pinning refused): the caller says so.
void* pin_new_host_memory(size_t bytes);

// Gives back memory from pin_new_host_memory of the same `bytes`.
void unpin_host_memory(void* ptr, size_t bytes) noexcept;

}  // namespace cellshard
