// Reads a CSC matrix (h5ad's csc_matrix X: genes are the major axis) into
// shards. Limitation: CSC cannot be cut into cells without seeing every gene,
// so the whole matrix is gathered in host memory and transposed there (about
// 20 bytes per non-zero at the peak); only the reading itself is stepped.
#pragma once
#include <vector>

#include "chunk_plan.h"
#include "chunked_reader.h"
#include "h5_compressed_arrays.h"
#include "row_share.h"

namespace cellshard {

class H5CscReader : public ChunkedReader {
 public:
  // `arrays` with genes as the major axis and cells as the indices. Keeps the
  // cells of `share` (parts of equal numbers of cells); every gene is read.
  H5CscReader(CompressedArrays arrays, const std::vector<int>& devices, size_t n_shards,
              const ChunkLimits& limits, const RowShare& share = RowShare());

  int64_t n_rows() const override { return range_.count; }
  int64_t first_row() const override { return range_.first; }
  int64_t file_rows() const override { return arrays_.n_minor; }
  int64_t n_cols() const override { return arrays_.n_major; }

 private:
  void do_step() override;
  MatrixPtr do_finish() override;

  CompressedArrays arrays_;
  RowRange range_;
  std::vector<int> devices_;
  size_t n_shards_;
  std::vector<int64_t> chunk_starts_;  // over genes
  std::vector<int32_t> cells_, genes_;
  std::vector<float> values_;
};

}  // namespace cellshard
