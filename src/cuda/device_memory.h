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

// Hands the unused memory of every device's pool, and the cached pinned host
// blocks, back to the driver (for other programs).
void release_pooled_memory();

// Device -> host and host -> device copies.
void copy_device_to_host(void* host_dst, const void* src, int src_device, size_t bytes);
void copy_host_to_device(void* dst, int dst_device, const void* host_src, size_t bytes);

// Device -> host into ordinary (pageable) memory, for per-cell results of
// millions of values: through the device's pinned staging buffer in pieces,
// each copied out by host threads. A copy straight into pageable memory runs
// far below the link's speed.
void copy_device_to_host_staged(void* host_dst, const void* src, int src_device, size_t bytes);

// Page-locked host memory of at least `bytes` for staging copies from
// `device`, kept and reused (one buffer per device: callers are the one
// thread that works on the device at a time). Copies into ordinary
// (pageable) memory, strided ones especially, run far below the link's speed.
void* pinned_staging(int device, size_t bytes);

// Page-locked host memory for shards kept off the devices (kPinned); throws
// OutOfMemory with the host's available memory. Freed blocks are kept for
// reuse until release_pooled_memory() (or until an allocation fails).
void* pinned_allocate(size_t bytes);
void pinned_free(void* ptr) noexcept;

// A host -> device copy on the device's transfer stream (beside its kernels);
// returns when it has finished.
void copy_host_to_device_beside(void* dst, int dst_device, const void* host_src, size_t bytes);

// A device -> host copy on the device's download stream (beside its kernels
// and the transfer stream's copies); returns when it has finished.
void copy_device_to_host_beside(void* host_dst, const void* src, int src_device, size_t bytes);

// Pinned host -> device (to_device) or device -> pinned host bandwidth
// (bytes/s), the best of a few 256 MiB copies on the stream streaming uses
// for that direction; measured once per device and direction.
double measure_link_bandwidth(int device, bool to_device);

// Waits for the work queued on the device's stream.
void synchronize_device(int device);

// cudaMemset to zero.
void fill_device_zero(void* dst, int device, size_t bytes);

// Copies between any two places, each a GPU or host memory (kHost, kPinned).
void copy_anywhere(void* dst, int dst_device, const void* src, int src_device, size_t bytes);

}  // namespace cellshard
