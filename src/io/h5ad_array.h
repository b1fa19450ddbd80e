// A dense float64 array of an h5ad file beyond X (obsm, varm, uns).
#pragma once
#include <string>
#include <vector>

namespace cellshard {

// rows x cols values in row-major order (numpy's C order, as anndata stores
// them); cols == 0 means a 1-D array of `rows` values.
struct H5adArray {
  std::string name;
  size_t rows = 0, cols = 0;
  std::vector<double> values;
};

}  // namespace cellshard
