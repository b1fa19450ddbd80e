// A dense cells x k float64 matrix cut into the same shards of cells as the
// sparse matrix it was computed from (PCA scores): each shard's block stays on
// its device, column-major, until R reads it.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "buffer.h"

namespace cellshard {

struct DenseShard {
  int64_t n_rows = 0;
  // n_rows x n_cols float64 on the shard's device, column-major (null when empty)
  BufferPtr values;
};

struct DenseShards {
  int64_t n_cols = 0;
  std::vector<DenseShard> shards;

  int64_t n_rows() const;

  // Every value into host memory: n_rows() x n_cols, column-major.
  void read_all(double* out) const;
};

using DenseShardsPtr = std::shared_ptr<DenseShards>;

}  // namespace cellshard
