// The synthetic atlas's counts on a GPU (see core/synthetic_shard.h).
#pragma once
#include "../core/synthetic_shard.h"

namespace cellshard {

// Draws job.n_cells cells into a shard on GPU job.device: a counting pass,
// row pointers by a prefix sum, then a writing pass over the same random
// streams. Nothing of the matrix passes through host memory. Throws a clear
// error when the genes do not fit the GPU's shared memory (about 108,000
// genes on an H100).
AtlasShard generate_atlas_shard_on_device(const AtlasShardJob& job);

// Throws that error now, before any host work, if n_genes cannot be drawn
// on GPU `device`.
void check_atlas_fits_device(int device, int64_t n_genes);

}  // namespace cellshard
