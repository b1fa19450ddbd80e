// Opening a Cell Ranger HDF5 matrix: the v3 layout (group "matrix" with
// features/) or the v2 layout (one group named by the genome, with genes and
// gene_names). 10x stores CSC over barcodes, which is CSR over cells, so the
// matrix streams like h5ad's csr_matrix.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "chunk_plan.h"
#include "chunked_reader.h"
#include "data_frame.h"
#include "row_share.h"

namespace cellshard {

struct TenxH5 {
  std::unique_ptr<ChunkedReader> reader;
  std::vector<std::string> barcodes;
  // Columns id, name, and (v3) feature_type, genome; (v2) genome.
  DataFrame features;
};

TenxH5 open_10x_h5(const std::string& path, const std::vector<int>& devices, size_t n_shards,
                   const ChunkLimits& limits, const RowShare& share = RowShare());

// Reads everything but the matrix values (names, shape, pointers; see crash_guard.h).
void walk_10x_structure(const std::string& path);

}  // namespace cellshard
