// Per-device state shared by every CUDA backend call on that device: the
// stream that its work is queued on and the launch limits of the GPU.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace cellshard {

constexpr int kBlockThreads = 256;
constexpr int kWarpsPerBlock = kBlockThreads / 32;

struct DeviceContext {
  int device = 0;
  cudaStream_t stream = nullptr;
  // Copies of out-of-core staging (core/shard_stream.h): non-blocking, so
  // that they run beside the kernels queued on `stream`.
  cudaStream_t transfer_stream = nullptr;
  // Copies of results written back to pinned host memory (core/write_back.h):
  // a stream of their own, so that they use the other copy engine.
  cudaStream_t download_stream = nullptr;
  int sm_count = 1;
};

// Makes `device` current on the calling thread (which may be new) and returns
// its context, created on first use. Safe to call from several threads.
const DeviceContext& use_device(int device);

// Waits until everything queued on the device's stream has finished; throws
// on any error, including faults of earlier kernels.
void synchronize(const DeviceContext& ctx);

// Blocks for a grid-stride kernel over `items` work items (rows, non-zeros),
// `items_per_block` per block: enough to fill the GPU, at least one.
unsigned int grid_blocks(const DeviceContext& ctx, int64_t items, int items_per_block);

}  // namespace cellshard
