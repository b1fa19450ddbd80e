// The CUDA backend: shards in GPU memory, per-shard kernels on the shard's
// device. Compiled only when configure finds CUDA (CELLSHARD_CUDA).
#pragma once
#include <cstddef>

#include "../core/backend.h"

namespace cellshard {

Backend& cuda_backend();
int cuda_device_count();
void cuda_memory_info(int device, size_t* free_bytes, size_t* total_bytes);
// Name, compute capability and memory of each visible GPU, one line each.
std::string cuda_device_description(int device);
// The GPU's PCI bus id ("0000:3B:00.0"): tells GPUs apart across processes
// that number them differently (CUDA_VISIBLE_DEVICES).
std::string cuda_device_bus_id(int device);

}  // namespace cellshard
