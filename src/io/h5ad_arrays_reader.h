// Reading the dense arrays of an h5ad file's obsm (PCA, UMAP, ... per cell),
// as readH5AD turns them into reducedDims.
#pragma once
#include <string>
#include <vector>

#include "h5ad_array.h"

namespace cellshard {

struct H5adObsmListing {
  std::vector<std::string> dense;    // 2-D numeric datasets: readable
  std::vector<std::string> skipped;  // anything else (sparse groups, dataframes, 1-D)
};

// What obsm holds (both empty when the file has no obsm group).
H5adObsmListing list_h5ad_obsm(const std::string& path);

// Rows first .. first + count - 1 of obsm/<name> as float64, after checking it
// is a 2-D numeric dataset with one row per cell (n_obs).
H5adArray read_h5ad_obsm(const std::string& path, const std::string& name, size_t n_obs,
                         size_t first, size_t count);

}  // namespace cellshard
