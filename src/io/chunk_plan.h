// Cutting the cells of a matrix into chunks for streaming: each chunk stays
// within one shard and holds at most a given number of non-zeros or cells
// (a single cell with more non-zeros than that gets a chunk of its own).
#pragma once
#include <cstdint>
#include <vector>

namespace cellshard {

// How big the host-side chunks of a streaming reader may get.
struct ChunkLimits {
  int64_t max_nnz = int64_t(1) << 24;
  int64_t max_rows = 100000;
};

// Chunk boundaries: chunk k covers rows [starts[k], starts[k + 1]).
// row_prefix has n_rows + 1 entries (prefix sums of non-zeros per row);
// shard_first_rows has one entry per shard plus the total.
std::vector<int64_t> plan_chunks(const std::vector<int64_t>& row_prefix,
                                 const std::vector<int64_t>& shard_first_rows,
                                 const ChunkLimits& limits);

}  // namespace cellshard
