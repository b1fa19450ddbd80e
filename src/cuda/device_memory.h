// Allocation and copies of GPU memory for the CUDA backend. Every copy has
// finished when the function returns.
#pragma once
#include <cstddef>

namespace cellshard {

// Stream-ordered allocation on `device` from its memory pool, which keeps
// freed memory for reuse; throws OutOfMemory with the device's free and total
// bytes (after giving the pool's unused memory back and trying again).
void* device_allocate(int device, size_t bytes);

// Returns memory to the pool, ordered after the work queued on the device's
// stream; never throws, and stays silent when the runtime is shutting down.
void device_free(int device, void* ptr) noexcept;

// Bytes the pool holds for reuse (free for cellshard, not for other programs).
size_t pooled_free_bytes(int device);

// Hands the unused memory of every device's pool back to the driver (for
// other programs).
void release_pooled_memory();

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
