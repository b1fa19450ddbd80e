// Opening the count matrix of an h5ad file (anndata >= 0.8 on-disk format):
// X, a layer, or raw/X, stored as csr_matrix (streamed), csc_matrix
// (transposed in host memory) or a dense 2-D array (two passes).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "chunk_plan.h"
#include "chunked_reader.h"
#include "row_share.h"

namespace cellshard {

// What readH5AD needs to know before reading.
struct H5adSummary {
  int64_t n_obs = -1, n_vars = -1;     // from the index of obs and var (-1: absent)
  std::string x_encoding;              // "csr_matrix", "csc_matrix", "array" or "" (no X)
  std::vector<std::string> layers;     // names under layers/
  bool has_raw = false;                // raw/X present
};

H5adSummary summarize_h5ad(const std::string& path);

// The path of a matrix element: "X" or "" -> "X"; a name containing '/' (such
// as "raw/X" or "layers/counts") as is; any other name -> "layers/<name>".
std::string h5ad_element_path(const std::string& element);

// A reader for one matrix element, after checking its shape against obs and var.
std::unique_ptr<ChunkedReader> open_h5ad_matrix(const std::string& path,
                                                const std::string& element,
                                                const std::vector<int>& devices,
                                                size_t n_shards, const ChunkLimits& limits,
                                                const RowShare& share = RowShare());

// Opens and reads everything but the matrix values: obs, var, raw/var, and
// the metadata and pointers of X, every layer and raw/X (see crash_guard.h).
void walk_h5ad_structure(const std::string& path);

}  // namespace cellshard
