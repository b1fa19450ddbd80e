// The synthetic atlas's counts on the CPU backend: the same draws as the GPU
// kernels (core/synthetic_sampling.h), cells spread over host threads.
#pragma once
#include "../core/synthetic_shard.h"

namespace cellshard {

// Draws job.n_cells cells into a shard in host memory.
AtlasShard generate_atlas_shard_on_host(const AtlasShardJob& job);

}  // namespace cellshard
