#include "tenx_h5_reader.h"

#include <optional>

#include "h5_compressed_arrays.h"
#include "h5_csr_stream_reader.h"
#include "h5_file.h"

namespace cellshard {

static Column text_column(const std::string& name, std::vector<std::string> values) {
  Column c;
  c.name = name;
  c.kind = Column::Kind::String;
  c.strings = std::move(values);
  return c;
}

// Strings of a dataset whose length must be `n` (checked before reading).
static std::vector<std::string> read_names(const h5::File& f, const std::string& name,
                                           int64_t n, const std::string& what) {
  h5::Dataset ds = f.dataset(name);
  if (ds.length() != n)
    f.fail("'" + name + "' has " + std::to_string(ds.length()) + " entries but the matrix has " +
           std::to_string(n) + " " + what);
  return ds.read_strings();
}

// The group holding the matrix: "matrix" (v3), or the only top-level group
// with indptr and barcodes datasets (v2, named by its genome).
static std::string matrix_group(const h5::File& f, bool* is_v3) {
  *is_v3 = f.kind("matrix") == h5::Kind::Group;
  if (*is_v3) return "matrix";
  std::vector<std::string> found;
  for (const std::string& m : f.group("/").members())
    if (f.kind(m + "/indptr") == h5::Kind::Dataset && f.kind(m + "/barcodes") == h5::Kind::Dataset)
      found.push_back(m);
  if (found.empty())
    f.fail("no 10x matrix found: neither a group 'matrix' (Cell Ranger v3) nor a genome group "
           "with 'indptr' (Cell Ranger v2)");
  if (found.size() > 1) {
    std::string list;
    for (const auto& g : found) list += (list.empty() ? "" : ", ") + g;
    f.fail("the file holds matrices for several genomes (" + list +
           "), which read10xH5 does not combine");
  }
  return found[0];
}

// Names and arrays of a 10x file, everything but the matrix values.
static TenxH5 read_10x_metadata(std::shared_ptr<const h5::File> f,
                                std::optional<CompressedArrays>* arrays) {
  bool v3 = false;
  std::string g = matrix_group(*f, &v3);
  h5::Dataset shape_ds = f->dataset(g + "/shape");
  shape_ds.require_numbers(true);
  if (shape_ds.length() != 2)
    f->fail("'" + g + "/shape' should hold 2 numbers (genes, cells), not " +
            std::to_string(shape_ds.length()));
  std::vector<int64_t> shape = shape_ds.read_all<int64_t>();
  int64_t n_genes = shape[0], n_cells = shape[1];

  TenxH5 out;
  // Names first: their lengths are cheap checks of the shape.
  out.barcodes = read_names(*f, g + "/barcodes", n_cells, "cells");
  if (v3) {
    out.features.columns.push_back(
        text_column("id", read_names(*f, g + "/features/id", n_genes, "features")));
    out.features.columns.push_back(
        text_column("name", read_names(*f, g + "/features/name", n_genes, "features")));
    for (const char* opt : {"feature_type", "genome"}) {
      std::string name = g + "/features/" + opt;
      if (f->kind(name) == h5::Kind::Dataset)
        out.features.columns.push_back(text_column(opt, read_names(*f, name, n_genes, "features")));
    }
  } else {
    out.features.columns.push_back(text_column("id", read_names(*f, g + "/genes", n_genes, "genes")));
    out.features.columns.push_back(
        text_column("name", read_names(*f, g + "/gene_names", n_genes, "genes")));
    out.features.columns.push_back(
        text_column("genome", std::vector<std::string>(size_t(n_genes), g)));
  }
  out.features.index = out.features.columns[0].strings;
  arrays->emplace(open_compressed_arrays(f, g, n_cells, n_genes, "cell"));
  return out;
}

TenxH5 open_10x_h5(const std::string& path, const std::vector<int>& devices, size_t n_shards,
                   const ChunkLimits& limits, const RowShare& share) {
  std::shared_ptr<const h5::File> f = h5::File::open("read10xH5", path);
  std::optional<CompressedArrays> arrays;
  TenxH5 out = read_10x_metadata(f, &arrays);
  out.reader.reset(new H5CsrStreamReader(std::move(*arrays), devices, n_shards, limits, share));
  return out;
}

void walk_10x_structure(const std::string& path) {
  std::optional<CompressedArrays> arrays;
  read_10x_metadata(h5::File::open("read10xH5", path), &arrays);
}

}  // namespace cellshard
