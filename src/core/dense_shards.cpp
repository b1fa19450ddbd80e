#include "dense_shards.h"

namespace cellshard {

int64_t DenseShards::n_rows() const {
  int64_t n = 0;
  for (const DenseShard& s : shards) n += s.n_rows;
  return n;
}

void DenseShards::read_all(double* out) const {
  const int64_t total = n_rows();
  int64_t first = 0;
  for (const DenseShard& sh : shards) {
    if (sh.values)  // each column of the shard goes to its rows of that column
      for (int64_t j = 0; j < n_cols; ++j)
        sh.values->download(out + j * total + first, size_t(sh.n_rows) * sizeof(double),
                            size_t(j) * size_t(sh.n_rows) * sizeof(double));
    first += sh.n_rows;
  }
}

}  // namespace cellshard
