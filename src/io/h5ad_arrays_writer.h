// Dense float64 arrays of an h5ad file beyond X: obsm (per cell), varm (per
// gene) and uns (unstructured), each written as anndata >= 0.8 writes a numpy
// array: a dataset with encoding-type "array", encoding-version "0.2.0".
#pragma once
#include <string>
#include <vector>

#include "h5_writer.h"
#include "h5ad_array.h"

namespace cellshard {

struct H5adArrays {
  std::vector<H5adArray> obsm;  // rows: the cells of X
  std::vector<H5adArray> varm;  // rows: the genes of X
  // Names are paths under uns ("pca/variance"); the groups on the way are
  // written as anndata dicts.
  std::vector<H5adArray> uns;
};

// Throws cellshard::Error "<who>: <path>: ..." for a name that is empty,
// repeated or (obsm / varm) contains '/', for a shape that does not match
// the values, and for obsm / varm arrays whose rows are not the n_obs cells /
// n_vars genes. Called before anything is written.
void check_h5ad_arrays(const std::string& who, const std::string& path, const H5adArrays& a,
                       size_t n_obs, size_t n_vars);

// Writes the obsm, varm and uns groups (each a dict) with their arrays.
void write_h5ad_arrays(h5::Writer& w, const H5adArrays& a);

}  // namespace cellshard
