// Streams a CSR matrix (cells x genes) out of HDF5 into shards: h5ad's
// csr_matrix X and the 10x "matrix" group (CSC over barcodes = CSR over cells).
// Host memory holds the row pointers plus a few chunks, whatever the file size.
#pragma once
#include <memory>
#include <vector>

#include "../core/shard_builder.h"
#include "chunk_plan.h"
#include "chunked_reader.h"
#include "h5_compressed_arrays.h"
#include "reader_phases.h"
#include "row_share.h"

namespace cellshard {

class H5CsrStreamReader : public ChunkedReader {
 public:
  // `arrays` with cells as the major axis; reads the cells of `share` (parts
  // balanced by non-zeros). Plans shards balanced by non-zeros and allocates
  // them (so out-of-memory shows before any data is read).
  H5CsrStreamReader(CompressedArrays arrays, const std::vector<int>& devices, size_t n_shards,
                    const ChunkLimits& limits, const RowShare& share = RowShare());

  int64_t n_rows() const override { return range_.count; }
  int64_t n_cols() const override { return arrays_.n_minor; }
  int64_t first_row() const override { return range_.first; }
  int64_t file_rows() const override { return arrays_.n_major; }

 private:
  void do_step() override;
  MatrixPtr do_finish() override;
  // Reads chunk k as canonical CSR (sorted, duplicates summed), into the
  // arrays of `c` (a spare chunk from the builder, or a new one).
  HostChunk read_chunk(size_t k, int64_t* removed, HostChunk c = HostChunk());
  // Duplicates were found: the shards were sized for the file's entry count,
  // so count the distinct entries of every cell, size new shards, and read
  // again the chunks before `k`. Rare (scipy leaves duplicates only when asked).
  void restart_with_distinct_counts(size_t k);

  CompressedArrays arrays_;
  RowRange range_;
  std::vector<int64_t> prefix_;  // non-zeros before each cell of the share (share-local rows)
  Placement placement_;
  std::vector<int64_t> chunk_starts_;
  std::unique_ptr<ShardBuilder> builder_;
  bool counts_exact_ = false;
  ReaderPhases phases_;
};

}  // namespace cellshard
