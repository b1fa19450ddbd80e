#include "mtx_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "../core/errors.h"
#include "../core/memory_budget.h"
#include "host_csr_assembly.h"
#include "tsv_reader.h"

namespace cellshard {

namespace fs = std::filesystem;

static std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

static const char* skip_blanks(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t')) ++p;
  return p;
}

// Parses one whitespace-separated integer; nullptr when there is none.
static const char* parse_int(const char* p, const char* end, int64_t* v) {
  p = skip_blanks(p, end);
  auto r = std::from_chars(p, end, *v);
  return r.ec == std::errc() ? r.ptr : nullptr;
}

MtxReader::MtxReader(const std::string& who, const std::string& path,
                     const std::vector<int>& devices, size_t n_shards, int64_t entries_per_step,
                     const RowShare& share)
    : in_(who, path), devices_(devices), n_shards_(n_shards),
      entries_per_step_(std::max<int64_t>(1, entries_per_step)) {
  CS_CHECK(!devices_.empty() && n_shards_ >= 1, "no devices or shards to read into");
  std::string line;
  if (!in_.next(&line)) in_.fail("the file is empty");
  std::istringstream header(line);
  std::string banner, object, format, field, symmetry;
  header >> banner >> object >> format >> field >> symmetry;
  if (lower(banner) != "%%matrixmarket")
    in_.fail("not a MatrixMarket file (the first line should start with %%MatrixMarket)");
  if (lower(object) != "matrix" || lower(format) != "coordinate")
    in_.fail("expected a sparse 'matrix coordinate' file, found '" + object + " " + format + "'");
  field = lower(field);
  if (field == "integer") field_ = Field::Integer;
  else if (field == "real" || field == "double") field_ = Field::Real;
  else if (field == "pattern") field_ = Field::Pattern;
  else in_.fail("values of type '" + field + "' are not supported (integer, real or pattern)");
  if (lower(symmetry) != "general")
    in_.fail("only 'general' matrices are supported, not '" + symmetry + "'");
  // Comments, then the size line: genes, cells, entries.
  do {
    if (!in_.next(&line)) in_.fail("the file ends before its size line");
  } while (line.empty() || line[0] == '%');
  const char* p = line.data();
  const char* end = p + line.size();
  int64_t dims[3];
  for (int64_t& d : dims) {
    p = p ? parse_int(p, end, &d) : nullptr;
    if (!p) in_.fail("the size line should hold three numbers: genes, cells, entries");
  }
  if (skip_blanks(p, end) != end) in_.fail("unexpected text after the size line's three numbers");
  n_genes_ = dims[0];
  n_cells_ = dims[1];
  n_entries_ = dims[2];
  int64_t limit = std::numeric_limits<int32_t>::max();
  if (n_genes_ < 0 || n_cells_ < 0 || n_entries_ < 0) in_.fail("negative sizes");
  if (n_genes_ > limit || n_cells_ > limit) in_.fail("more than 2^31 - 1 genes or cells");
  if (double(n_entries_) > double(n_genes_) * double(n_cells_))
    in_.fail("declares " + std::to_string(n_entries_) + " entries, more than genes x cells");
  range_ = share_rows(share, n_cells_, nullptr, who);
  // Reserve no more than the file could hold, whatever the header claims.
  std::error_code ec;
  auto bytes = fs::file_size(path, ec);
  size_t reserve = size_t(std::min<double>(double(n_entries_), ec ? 0.0 : double(bytes)));
  cells_.reserve(reserve);
  genes_.reserve(reserve);
  values_.reserve(reserve);
  total_ = (n_entries_ + entries_per_step_ - 1) / entries_per_step_;
}

void MtxReader::parse_entry(const std::string& line) {
  const char* p = line.data();
  const char* end = p + line.size();
  int64_t gene = 0, cell = 0;
  p = parse_int(p, end, &gene);
  if (p) p = parse_int(p, end, &cell);
  if (!p) in_.fail("expected 'gene cell value', found '" + line.substr(0, 80) + "'");
  if (gene < 1 || gene > n_genes_)
    in_.fail("gene " + std::to_string(gene) + " is outside 1.." + std::to_string(n_genes_));
  if (cell < 1 || cell > n_cells_)
    in_.fail("cell " + std::to_string(cell) + " is outside 1.." + std::to_string(n_cells_));
  double value = 1.0;
  if (field_ != Field::Pattern) {
    p = skip_blanks(p, end);
    std::from_chars_result r{};
    if (field_ == Field::Integer) {
      int64_t iv = 0;
      r = std::from_chars(p, end, iv);
      value = double(iv);
    } else {
      r = std::from_chars(p, end, value);
    }
    if (r.ec != std::errc())
      in_.fail("expected a value after gene and cell, found '" + line.substr(0, 80) + "'");
    p = r.ptr;
  }
  if (skip_blanks(p, end) != end) in_.fail("unexpected text after the entry: '" + line.substr(0, 80) + "'");
  if (!std::isfinite(float(value))) in_.fail("a NaN or infinite value (or one too large for float32)");
  genes_.push_back(int32_t(gene - 1));
  cells_.push_back(int32_t(cell - 1));
  values_.push_back(float(value));
}

void MtxReader::do_step() {
  int64_t target = std::min(n_entries_, int64_t(cells_.size()) + entries_per_step_);
  std::string line;
  while (int64_t(cells_.size()) < target) {
    if (!in_.next(&line))
      in_.fail("the file ends after " + std::to_string(cells_.size()) + " of the " +
               std::to_string(n_entries_) + " entries its header declares (truncated file?)");
    if (line.empty() || line[0] == '%') continue;
    parse_entry(line);
  }
  if (int64_t(cells_.size()) == n_entries_) {
    while (in_.next(&line)) {
      bool blank = std::all_of(line.begin(), line.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
      if (!blank && line[0] != '%')
        in_.fail("more entries than the " + std::to_string(n_entries_) + " its header declares");
    }
  }
}

MatrixPtr MtxReader::do_finish() {
  HostCsr csr = slice_rows(csr_from_coordinates(n_cells_, n_genes_, cells_, genes_, values_), range_);
  // Under a memory budget: small shards, those past it in pinned host memory.
  size_t n_shards = shards_for_budget(n_shards_, double(csr.n_rows + 1) * 8 +
                                                     double(csr.indices.size()) * 8,
                                      devices_.front(), devices_.size());
  return from_host(csr, balanced_placement(csr.indptr, devices_, n_shards));
}

// The first of `names` present in `dir`, or "".
static std::string find_file(const fs::path& dir, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    std::error_code ec;
    if (fs::is_regular_file(dir / n, ec)) return (dir / n).string();
  }
  return "";
}

TenxMtx open_10x_mtx(const std::string& path, const std::vector<int>& devices, size_t n_shards,
                     int64_t entries_per_step, const RowShare& share) {
  const std::string who = "read10xMtx";
  std::error_code ec;
  bool is_dir = fs::is_directory(path, ec);
  fs::path dir = is_dir ? fs::path(path) : fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  TenxMtx out;
  out.matrix_path = is_dir ? find_file(dir, {"matrix.mtx.gz", "matrix.mtx"}) : path;
  if (out.matrix_path.empty())
    throw Error(who + ": " + path + ": no matrix.mtx or matrix.mtx.gz in this folder");
  std::string features = find_file(dir, {"features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"});
  std::string barcodes = find_file(dir, {"barcodes.tsv.gz", "barcodes.tsv"});
  if (is_dir && (features.empty() || barcodes.empty()))
    throw Error(who + ": " + path + ": the folder needs " +
                (features.empty() ? "features.tsv[.gz] (or genes.tsv[.gz])" : "barcodes.tsv[.gz]"));

  auto reader = std::make_unique<MtxReader>(who, out.matrix_path, devices, n_shards, entries_per_step, share);
  if (!barcodes.empty()) {
    auto cols = read_tsv_columns(who, barcodes);
    if (!cols.empty()) out.barcodes = std::move(cols[0]);
    if (int64_t(out.barcodes.size()) != reader->file_rows())
      throw Error(who + ": " + barcodes + ": holds " + std::to_string(out.barcodes.size()) +
                  " barcodes but the matrix has " + std::to_string(reader->file_rows()) + " cells");
  }
  if (!features.empty()) {
    auto cols = read_tsv_columns(who, features);
    size_t n = cols.empty() ? 0 : cols[0].size();
    if (int64_t(n) != reader->n_cols())
      throw Error(who + ": " + features + ": holds " + std::to_string(n) +
                  " features but the matrix has " + std::to_string(reader->n_cols()) + " genes");
    const char* names[] = {"id", "name", "feature_type"};
    for (size_t k = 0; k < cols.size(); ++k) {
      Column c;
      c.name = k < 3 ? names[k] : "V" + std::to_string(k + 1);
      c.kind = Column::Kind::String;
      c.strings = std::move(cols[k]);
      out.features.columns.push_back(std::move(c));
    }
    if (!out.features.columns.empty()) out.features.index = out.features.columns[0].strings;
  }
  out.reader = std::move(reader);
  return out;
}

}  // namespace cellshard
