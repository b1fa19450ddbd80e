// Writes an h5ad file that anndata >= 0.8 reads: X (and optional layers) as
// csr_matrix groups streamed shard by shard from the devices, obs and var as
// dataframes, dense float64 arrays in obsm / varm / uns (a PCA: obsm/X_pca,
// varm/PCs, uns/pca), and the empty obsp / varp that anndata expects.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "../core/sharded_matrix.h"
#include "data_frame.h"
#include "h5ad_arrays_writer.h"

namespace cellshard {

struct H5adLayer {
  std::string name;
  MatrixPtr matrix;  // same cells and genes as X
};

// Writes to a temporary file beside `path` and renames it over `path` at the
// end, so a failure never leaves a half-written file under the final name.
// String columns with NA are written as categoricals (anndata has no NA text
// in string arrays); integer and logical columns with NA as nullable arrays.
void write_h5ad(const std::string& path, const ShardedMatrix& x, const DataFrame& obs,
                const DataFrame& var, const std::vector<H5adLayer>& layers,
                const H5adArrays& arrays, int compression);

}  // namespace cellshard
