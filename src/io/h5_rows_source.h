// A shard left in its HDF5 file under a memory budget (out of core): cells
// [first, first + n) of a CSR matrix (h5ad csr_matrix X or a layer, the 10x
// "matrix" group), read again, checked and put in canonical form each time a
// pass needs them, exactly as the reader first read them.
#pragma once
#include <memory>
#include <string>

#include "../core/shard_source.h"
#include "h5_compressed_arrays.h"

namespace cellshard {

class H5RowsSource : public ShardSource {
 public:
  // `nnz`: the shard's entries after canonical form (duplicates summed).
  H5RowsSource(std::shared_ptr<const CompressedArrays> arrays, int64_t first_row, int64_t n_rows,
               int64_t nnz);
  void read(int32_t* indices, float* values) const override;
  std::string describe() const override;

 private:
  [[noreturn]] void throw_changed(int64_t entries) const;

  std::shared_ptr<const CompressedArrays> arrays_;
  int64_t first_, n_, nnz_;
};

}  // namespace cellshard
