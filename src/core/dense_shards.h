// A dense cells x k float64 matrix cut into the same shards of cells as the
// sparse matrix it was computed from (PCA scores): each shard's block stays on
// its device, column-major. R reads it a block at a time.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "buffer.h"

namespace cellshard {

struct DenseShard {
  int device = kHost;
  int64_t n_rows = 0;
  BufferPtr values;  // n_rows x n_cols float64, column-major (null when empty)
};

struct DenseShards {
  int64_t n_cols = 0;
  std::vector<DenseShard> shards;

  int64_t n_rows() const;
  // First row of each shard, plus n_rows() at the end.
  std::vector<int64_t> row_offsets() const;
  size_t bytes() const;

  // Rows `rows` (0-based, any order; empty: every row) of the columns `cols`
  // (0-based) into host memory, column-major with leading dimension
  // out_rows (the number of rows asked for).
  void read(const std::vector<int64_t>& rows, bool all_rows, const std::vector<int64_t>& cols,
            double* out) const;
};

using DenseShardsPtr = std::shared_ptr<DenseShards>;

}  // namespace cellshard
