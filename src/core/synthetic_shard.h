// What a backend needs to draw one shard of the synthetic atlas, and what it
// gives back. Both backends draw cell c's UMIs from the same Philox streams
// (core/synthetic_sampling.h), so shards are the same bits on either.
#pragma once
#include <cstdint>
#include <memory>

#include "sharded_matrix.h"
#include "synthetic_sampling.h"

namespace cellshard {

struct AtlasShardJob {
  int device = kHost;
  uint64_t seed = 0;
  int64_t first_cell = 0;  // the shard's first cell, numbered in the whole atlas
  int64_t n_cells = 0;
  int64_t n_genes = 0;
  const int32_t* library = nullptr;     // host, n_cells UMIs (at most 65,535 each)
  const int32_t* table = nullptr;       // host, n_cells: alias table of each cell
  const AliasEntry* tables = nullptr;   // host, n_tables * n_genes
  int n_tables = 0;
};

// One CSR shard on job.device: rows of sorted gene indices, values the counts.
struct AtlasShard {
  std::shared_ptr<ShardIndex> index;
  BufferPtr values;
};

// An empty index for the job's shard, with its row pointers allocated on job.device.
std::shared_ptr<ShardIndex> new_atlas_shard_index(const AtlasShardJob& job);

// Checks what both backends rely on (sizes, table numbers, library sizes),
// so that no bad input reaches a kernel; run before either backend's draw.
void check_atlas_shard_job(const AtlasShardJob& job);

}  // namespace cellshard
