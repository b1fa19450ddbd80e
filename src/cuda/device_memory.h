// Allocation and copies of GPU memory for the CUDA backend. Every copy has
// finished when the function returns.
#pragma once
#include <cstddef>

namespace cellshard {

// cudaMalloc on `device`; throws OutOfMemory with the device's free and total bytes.
void* device_allocate(int device, size_t bytes);

// cudaFree; never throws, and stays silent when the runtime is shutting down.
void device_free(int device, void* ptr) noexcept;

// Device -> host and host -> device copies.
void copy_device_to_host(void* host_dst, const void* src, int src_device, size_t bytes);
void copy_host_to_device(void* dst, int dst_device, const void* host_src, size_t bytes);

// Page-locked host memory of at least `bytes` for staging copies from
// `device`, kept and reused (one buffer per device: callers are the one
// thread that works on the device at a time). Copies into ordinary
// (pageable) memory, strided ones especially, run far below the link's speed.
void* pinned_staging(int device, size_t bytes);

// cudaMemset to zero.
void fill_device_zero(void* dst, int device, size_t bytes);

// Copies between any two places, each a GPU or the host (kHost).
void copy_anywhere(void* dst, int dst_device, const void* src, int src_device, size_t bytes);

}  // namespace cellshard
