// Reads a MatrixMarket coordinate file (genes x cells, 1-based: the 10x
// matrix.mtx[.gz]) into shards. Limitation: entries come in any order, so the
// whole matrix is gathered in host memory (about 20 bytes per entry at the
// peak) and sorted by cell there; parsing is stepped for progress.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "chunk_plan.h"
#include "chunked_reader.h"
#include "data_frame.h"
#include "gz_line_reader.h"
#include "row_share.h"

namespace cellshard {

class MtxReader : public ChunkedReader {
 public:
  // Reads the header and the size line; `who` starts error messages. Keeps
  // the cells of `share` (parts of equal numbers of cells); the whole file is
  // parsed.
  MtxReader(const std::string& who, const std::string& path, const std::vector<int>& devices,
            size_t n_shards, int64_t entries_per_step = int64_t(1) << 22,
            const RowShare& share = RowShare());

  int64_t n_rows() const override { return range_.count; }
  int64_t first_row() const override { return range_.first; }
  int64_t file_rows() const override { return n_cells_; }
  int64_t n_cols() const override { return n_genes_; }

 private:
  enum class Field { Integer, Real, Pattern };
  void do_step() override;
  MatrixPtr do_finish() override;
  void parse_entry(const std::string& line);

  GzLineReader in_;
  std::vector<int> devices_;
  size_t n_shards_;
  Field field_ = Field::Integer;
  int64_t n_genes_ = 0, n_cells_ = 0, n_entries_ = 0, entries_per_step_;
  RowRange range_;
  std::vector<int32_t> cells_, genes_;
  std::vector<float> values_;
};

// A 10x matrix folder (matrix.mtx[.gz], features.tsv[.gz] or genes.tsv[.gz],
// barcodes.tsv[.gz]), or a .mtx[.gz] file with those files beside it (optional then).
struct TenxMtx {
  std::unique_ptr<ChunkedReader> reader;
  std::vector<std::string> barcodes;  // empty when there is no barcodes file
  DataFrame features;                 // id, name[, feature_type]; empty when no file
  std::string matrix_path;
};

TenxMtx open_10x_mtx(const std::string& path, const std::vector<int>& devices, size_t n_shards,
                     int64_t entries_per_step = int64_t(1) << 22,
                     const RowShare& share = RowShare());

}  // namespace cellshard
