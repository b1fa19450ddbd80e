#include "h5_dense_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../core/errors.h"

namespace cellshard {

H5DenseReader::H5DenseReader(h5::Dataset dense, const std::vector<int>& devices,
                             size_t n_shards, const ChunkLimits& limits, const RowShare& share)
    : dense_(std::move(dense)), devices_(devices), n_shards_(n_shards) {
  CS_CHECK(!devices_.empty() && n_shards_ >= 1, "no devices or shards to read into");
  dense_.require_numbers(false);
  if (dense_.rank() != 2)
    dense_.fail("dataset '" + dense_.name() + "' should be two-dimensional");
  dense_.check_plausible_size();
  file_rows_ = int64_t(dense_.dims()[0]);
  RowRange range = share_rows(share, file_rows_, nullptr, dense_.file().who());
  first_row_ = range.first;
  n_rows_ = range.count;
  n_cols_ = int64_t(dense_.dims()[1]);
  if (n_cols_ > int64_t(std::numeric_limits<int32_t>::max()))
    dense_.fail("'" + dense_.name() + "' has more than 2^31 - 1 genes");
  int64_t per_block = std::max<int64_t>(1, limits.max_nnz / std::max<int64_t>(1, n_cols_));
  block_rows_ = std::max<int64_t>(1, std::min<int64_t>(per_block, limits.max_rows));
  n_blocks_ = (n_rows_ + block_rows_ - 1) / block_rows_;
  prefix_.assign(size_t(n_rows_) + 1, 0);
  // Counting pass, then at most one fill chunk per block plus one per shard
  // boundary; unused fill steps are skipped at the end.
  total_ = n_blocks_ == 0 ? 0 : 2 * n_blocks_ + int64_t(n_shards_) - 1;
}

void H5DenseReader::count_block(int64_t block) {
  int64_t a = block * block_rows_, b = std::min(n_rows_, a + block_rows_);
  block_.resize(size_t((b - a) * n_cols_));
  dense_.read_rows(block_.data(), hsize_t(first_row_ + a), hsize_t(b - a));
  for (int64_t r = a; r < b; ++r) {
    const float* row = block_.data() + (r - a) * n_cols_;
    int64_t nz = 0;
    for (int64_t g = 0; g < n_cols_; ++g) {
      if (!std::isfinite(row[g]))
        dense_.fail("'" + dense_.name() + "' holds a NaN or infinite value (or one too large "
                    "for float32) in cell " + std::to_string(first_row_ + r + 1) + " (1-based)");
      nz += row[g] != 0.0f;
    }
    prefix_[size_t(r + 1)] = prefix_[size_t(r)] + nz;
  }
}

void H5DenseReader::plan_shards() {
  Placement p = balanced_placement(prefix_, devices_, n_shards_);
  std::vector<int64_t> nnz;
  int64_t row = 0;
  for (int64_t rows : p.rows) {
    nnz.push_back(prefix_[size_t(row + rows)] - prefix_[size_t(row)]);
    row += rows;
  }
  builder_.reset(new ShardBuilder(n_cols_, p, nnz));
  // Row-limited chunks keep the dense block within the same bound as above.
  ChunkLimits fill{std::numeric_limits<int64_t>::max(), block_rows_};
  chunk_starts_ = plan_chunks(prefix_, builder_->shard_first_rows(), fill);
  CS_CHECK(int64_t(chunk_starts_.size()) - 1 <= total_ - n_blocks_,
           "internal: more fill chunks than steps reserved for them");
}

void H5DenseReader::fill_chunk(size_t k) {
  int64_t a = chunk_starts_[k], b = chunk_starts_[k + 1];
  block_.resize(size_t((b - a) * n_cols_));
  dense_.read_rows(block_.data(), hsize_t(first_row_ + a), hsize_t(b - a));
  HostChunk c;
  c.first_row = a;
  c.indptr.assign(1, 0);
  size_t nnz = size_t(prefix_[size_t(b)] - prefix_[size_t(a)]);
  c.indices.reserve(nnz);
  c.values.reserve(nnz);
  for (int64_t r = a; r < b; ++r) {
    const float* row = block_.data() + (r - a) * n_cols_;
    for (int64_t g = 0; g < n_cols_; ++g)
      if (row[g] != 0.0f) {
        c.indices.push_back(int32_t(g));
        c.values.push_back(row[g]);
      }
    c.indptr.push_back(int64_t(c.indices.size()));
  }
  // The file changed between the passes (or reads are not repeatable).
  if (c.indices.size() != nnz) dense_.fail("'" + dense_.name() + "' changed while being read");
  builder_->put(std::move(c));
}

void H5DenseReader::do_step() {
  if (done_ < n_blocks_) {
    count_block(done_);
    if (done_ + 1 == n_blocks_) plan_shards();
    return;
  }
  size_t k = size_t(done_ - n_blocks_);
  if (k + 1 < chunk_starts_.size()) fill_chunk(k);
  if (k + 2 >= chunk_starts_.size()) {
    done_ = total_ - 1;  // no more chunks: skip the unused steps
    block_ = std::vector<float>();
  }
}

MatrixPtr H5DenseReader::do_finish() {
  if (!builder_) plan_shards();  // no cells at all
  MatrixPtr m = builder_->finish();
  builder_.reset();
  return m;
}

}  // namespace cellshard
