// The CPU backend: shards in ordinary host memory, kernels as plain loops.
// It is the no-GPU path and the reference the CUDA backend is tested against.
#pragma once
#include <cstddef>

#include "../core/backend.h"

namespace cellshard {

Backend& cpu_backend();
void cpu_memory_info(size_t* free_bytes, size_t* total_bytes);

}  // namespace cellshard
