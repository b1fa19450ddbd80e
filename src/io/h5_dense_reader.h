// Reads a dense 2-D dataset (cells x genes, any integer or float type) into
// sparse shards in two passes over blocks of rows: the first counts the
// non-zeros of every cell (to size the shards), the second fills them.
#pragma once
#include <memory>
#include <vector>

#include "../core/shard_builder.h"
#include "chunk_plan.h"
#include "chunked_reader.h"
#include "h5_file.h"
#include "row_share.h"

namespace cellshard {

class H5DenseReader : public ChunkedReader {
 public:
  // `dense` must be 2-D and numeric; limits.max_nnz bounds the block's
  // entries. Reads the cells of `share` (parts of equal numbers of cells:
  // the non-zeros are not known before reading).
  H5DenseReader(h5::Dataset dense, const std::vector<int>& devices, size_t n_shards,
                const ChunkLimits& limits, const RowShare& share = RowShare());

  int64_t n_rows() const override { return n_rows_; }
  int64_t first_row() const override { return first_row_; }
  int64_t file_rows() const override { return file_rows_; }
  int64_t n_cols() const override { return n_cols_; }

 private:
  void do_step() override;
  MatrixPtr do_finish() override;
  void count_block(int64_t block);
  void plan_shards();
  void fill_chunk(size_t k);

  h5::Dataset dense_;
  std::vector<int> devices_;
  size_t n_shards_;
  int64_t n_rows_, n_cols_, block_rows_, n_blocks_;
  int64_t first_row_ = 0, file_rows_ = 0;  // the share: rows below are numbered within it
  std::vector<int64_t> prefix_;        // non-zeros before each cell
  std::vector<int64_t> chunk_starts_;  // fill chunks, once planned
  std::unique_ptr<ShardBuilder> builder_;
  std::vector<float> block_;
};

}  // namespace cellshard
