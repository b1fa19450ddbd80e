#include "h5_csr_stream_reader.h"

#include "../core/memory_budget.h"
#include "csr_canonical.h"
#include "h5_rows_source.h"

namespace cellshard {

// Non-zeros of each shard, from a prefix over cells.
static std::vector<int64_t> shard_nnz(const std::vector<int64_t>& prefix, const Placement& p) {
  std::vector<int64_t> nnz;
  int64_t row = 0;
  for (int64_t rows : p.rows) {
    nnz.push_back(prefix[size_t(row + rows)] - prefix[size_t(row)]);
    row += rows;
  }
  return nnz;
}

H5CsrStreamReader::H5CsrStreamReader(CompressedArrays arrays, const std::vector<int>& devices,
                                     size_t n_shards, const ChunkLimits& limits,
                                     const RowShare& share)
    : arrays_(std::move(arrays)) {
  range_ = share_rows(share, arrays_.n_major, &arrays_.indptr, arrays_.file->who());
  // Rows below are numbered within the share; the file's row is first + r.
  const int64_t base = arrays_.indptr[size_t(range_.first)];
  prefix_.resize(size_t(range_.count) + 1);
  for (int64_t r = 0; r <= range_.count; ++r)
    prefix_[size_t(r)] = arrays_.indptr[size_t(range_.first + r)] - base;
  // Under a memory budget the matrix may stream: small shards, and those past
  // the budget left in pinned memory or in this file (core/memory_budget.h).
  n_shards = shards_for_budget(n_shards, double(range_.count + 1) * 8 + double(prefix_.back()) * 8,
                               devices.front(), devices.size());
  placement_ = balanced_placement(prefix_, devices, n_shards);
  builder_.reset(new ShardBuilder(arrays_.n_minor, placement_, shard_nnz(prefix_, placement_), 3,
                                  true));
  chunk_starts_ = plan_chunks(prefix_, builder_->shard_first_rows(), limits);
  total_ = int64_t(chunk_starts_.size()) - 1;
}

HostChunk H5CsrStreamReader::read_chunk(size_t k, int64_t* removed, HostChunk c) {
  int64_t a = chunk_starts_[k], b = chunk_starts_[k + 1];
  int64_t lo = arrays_.indptr[size_t(range_.first + a)], hi = arrays_.indptr[size_t(range_.first + b)];
  c.first_row = a;
  c.indptr.resize(size_t(b - a + 1));
  for (int64_t r = a; r <= b; ++r) c.indptr[size_t(r - a)] = arrays_.indptr[size_t(range_.first + r)] - lo;
  c.indices.resize(size_t(hi - lo));
  c.values.resize(size_t(hi - lo));
  *removed = 0;
  if (read_compressed_range(arrays_, lo, hi, range_.first + a, c.indptr, c.indices.data(),
                            c.values.data(), &phases_))
    return c;
  const auto t0 = std::chrono::steady_clock::now();
  *removed = canonicalize_rows(c.indptr, c.indices.data(), c.values.data());
  c.indices.resize(size_t(c.indptr.back()));
  c.values.resize(size_t(c.indptr.back()));
  phases_.canonical += seconds_since(t0);
  return c;
}

void H5CsrStreamReader::restart_with_distinct_counts(size_t k) {
  std::vector<int64_t> prefix(size_t(n_rows()) + 1, 0);
  std::vector<int32_t> indices;
  std::vector<float> unused;
  const int64_t first = range_.first;
  for (size_t j = 0; j + 1 < chunk_starts_.size(); ++j) {
    int64_t a = chunk_starts_[j], b = chunk_starts_[j + 1];
    int64_t lo = arrays_.indptr[size_t(first + a)], hi = arrays_.indptr[size_t(first + b)];
    std::vector<int64_t> ptr(size_t(b - a + 1));
    for (int64_t r = a; r <= b; ++r) ptr[size_t(r - a)] = arrays_.indptr[size_t(first + r)] - lo;
    indices.resize(size_t(hi - lo));
    unused.resize(size_t(hi - lo));
    read_compressed_range(arrays_, lo, hi, first + a, ptr, indices.data(), unused.data());
    std::vector<int64_t> counts = distinct_per_row(ptr, indices);
    for (int64_t r = a; r < b; ++r) prefix[size_t(r + 1)] = prefix[size_t(r)] + counts[size_t(r - a)];
  }
  builder_.reset();  // waits for pending uploads, frees the old shards
  builder_.reset(new ShardBuilder(arrays_.n_minor, placement_, shard_nnz(prefix, placement_), 3,
                                  true));
  counts_exact_ = true;
  for (size_t j = 0; j < k; ++j) {
    int64_t removed = 0;
    builder_->put(read_chunk(j, &removed));
  }
}

void H5CsrStreamReader::do_step() {
  size_t k = size_t(done_);
  int64_t removed = 0;
  HostChunk c = read_chunk(k, &removed, builder_->spare_chunk());
  if (removed > 0 && !counts_exact_) restart_with_distinct_counts(k);
  const auto t0 = std::chrono::steady_clock::now();
  builder_->put(std::move(c));
  phases_.wait += seconds_since(t0);
}

MatrixPtr H5CsrStreamReader::do_finish() {
  // Shards left in the file are read again from it by each pass.
  std::shared_ptr<const CompressedArrays> arrays;
  const std::vector<int64_t>& first = builder_->shard_first_rows();
  MatrixPtr m = builder_->finish([&](size_t s, const ShardIndex& sh) -> std::shared_ptr<const ShardSource> {
    // The reader is done with its arrays: the sources keep them (and the file) open.
    if (!arrays) arrays = std::make_shared<const CompressedArrays>(std::move(arrays_));
    return std::make_shared<H5RowsSource>(arrays, range_.first + first[s], sh.n_rows, sh.nnz);
  });
  phases_.upload = builder_->upload_seconds();
  builder_.reset();
  last_reader_phases() = phases_;
  return m;
}

}  // namespace cellshard
