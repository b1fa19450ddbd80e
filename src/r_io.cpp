// Rcpp glue for the readers and the writer in io/: stepped readers behind
// external pointers (so R can show progress and be interrupted between
// steps), and conversion between io's DataFrame and R lists of vectors.
// Orientation: io/ produces cells x genes; R sees genes x cells.
#include <Rcpp.h>

#include <cmath>
#include <memory>

#include "io/chunked_reader.h"
#include "io/crash_guard.h"
#include "io/h5ad_arrays_reader.h"
#include "io/h5ad_frame_reader.h"
#include "io/h5ad_reader.h"
#include "io/h5ad_writer.h"
#include "io/mtx_reader.h"
#include "io/reader_phases.h"
#include "io/tenx_h5_reader.h"
#include "r_handle.h"

using namespace cellshard;

namespace {

struct ReaderHandle {
  std::unique_ptr<ChunkedReader> reader;
};

void finalize_reader(SEXP ptr) {
  auto* h = static_cast<ReaderHandle*>(R_ExternalPtrAddr(ptr));
  if (!h) return;
  R_ClearExternalPtr(ptr);
  delete h;  // waits for pending uploads, frees what was read
}

SEXP wrap_reader(std::unique_ptr<ChunkedReader> reader) {
  auto* h = new ReaderHandle{std::move(reader)};
  SEXP ptr = PROTECT(R_MakeExternalPtr(h, Rf_install("cellshard_reader"), R_NilValue));
  R_RegisterCFinalizerEx(ptr, finalize_reader, TRUE);
  UNPROTECT(1);
  return ptr;
}

ChunkedReader& get_reader(SEXP ptr) {
  if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != Rf_install("cellshard_reader"))
    throw Error("not a cellshard reader");
  auto* h = static_cast<ReaderHandle*>(R_ExternalPtrAddr(ptr));
  if (!h || !h->reader) throw Error("this reader was closed (or did not survive saveRDS/readRDS)");
  return *h->reader;
}

size_t as_shards(int n_shards) {
  if (n_shards < 1) throw Error("the number of shards must be at least 1");
  return size_t(n_shards);
}

// The cells this process reads: part `part` of `parts` (MPI rank and size),
// or, when count >= 0, the explicit range [first, first + count).
RowShare as_share(int part, int parts, double first, double count) {
  if (parts < 1 || part < 0 || part >= parts) throw Error("internal: bad share of the cells");
  RowShare s;
  s.part = part;
  s.parts = parts;
  s.first = int64_t(first);
  s.count = int64_t(count);
  return s;
}

ChunkLimits as_limits(double chunk_nnz, double chunk_cells) {
  if (!(chunk_nnz >= 1) || !(chunk_cells >= 1)) throw Error("chunk sizes must be at least 1");
  return ChunkLimits{int64_t(chunk_nnz), int64_t(chunk_cells)};
}

// list(reader, n_obs, n_vars, chunks, first_obs, n_obs_file) plus `extra`
// named elements: the reader reads cells first_obs + 1 .. first_obs + n_obs
// (1-based) of the file's n_obs_file.
Rcpp::List reader_list(std::unique_ptr<ChunkedReader> r, const Rcpp::List& extra = Rcpp::List()) {
  double rows = double(r->n_rows()), cols = double(r->n_cols()), steps = double(r->total_steps());
  double first = double(r->first_row()), file_rows = double(r->file_rows());
  const R_xlen_t fixed = 6;
  Rcpp::List out(fixed + extra.size());
  Rcpp::CharacterVector names(out.size());
  out[0] = wrap_reader(std::move(r));
  out[1] = rows;
  out[2] = cols;
  out[3] = steps;
  names[0] = "reader";
  names[1] = "n_obs";
  names[2] = "n_vars";
  names[3] = "chunks";
  out[4] = first;
  out[5] = file_rows;
  names[4] = "first_obs";
  names[5] = "n_obs_file";
  Rcpp::CharacterVector extra_names =
      extra.size() ? Rcpp::CharacterVector(extra.names()) : Rcpp::CharacterVector();
  for (R_xlen_t k = 0; k < extra.size(); ++k) {
    out[fixed + k] = extra[k];
    names[fixed + k] = extra_names[k];
  }
  out.attr("names") = names;
  return out;
}

Rcpp::CharacterVector utf8_strings(const std::vector<std::string>& v,
                                   const std::vector<uint8_t>* missing = nullptr) {
  Rcpp::CharacterVector out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[R_xlen_t(i)] = (missing && !missing->empty() && (*missing)[i])
                           ? NA_STRING
                           : Rf_mkCharLenCE(v[i].data(), int(v[i].size()), CE_UTF8);
  return out;
}

bool is_na(const std::vector<uint8_t>& missing, size_t i) { return !missing.empty() && missing[i]; }

SEXP column_to_r(const Column& c) {
  size_t n = c.size();
  switch (c.kind) {
    case Column::Kind::Double: {
      Rcpp::NumericVector v(c.doubles.begin(), c.doubles.end());
      for (size_t i = 0; i < n; ++i)
        if (is_na(c.missing, i)) v[R_xlen_t(i)] = NA_REAL;
      return v;
    }
    case Column::Kind::Integer: {
      Rcpp::IntegerVector v(n);
      for (size_t i = 0; i < n; ++i) v[R_xlen_t(i)] = is_na(c.missing, i) ? NA_INTEGER : c.integers[i];
      return v;
    }
    case Column::Kind::Logical: {
      Rcpp::LogicalVector v(n);
      for (size_t i = 0; i < n; ++i) v[R_xlen_t(i)] = is_na(c.missing, i) ? NA_LOGICAL : c.integers[i];
      return v;
    }
    case Column::Kind::String:
      return utf8_strings(c.strings, &c.missing);
    case Column::Kind::Factor: {
      Rcpp::IntegerVector v(n);
      for (size_t i = 0; i < n; ++i) v[R_xlen_t(i)] = c.integers[i] < 0 ? NA_INTEGER : c.integers[i] + 1;
      v.attr("levels") = utf8_strings(c.levels);
      v.attr("class") = c.ordered ? Rcpp::CharacterVector::create("ordered", "factor")
                                  : Rcpp::CharacterVector::create("factor");
      return v;
    }
  }
  return R_NilValue;
}

Rcpp::List frame_to_r(const DataFrame& df) {
  Rcpp::List cols(df.columns.size());
  Rcpp::CharacterVector names(df.columns.size());
  for (size_t k = 0; k < df.columns.size(); ++k) {
    cols[R_xlen_t(k)] = column_to_r(df.columns[k]);
    names[R_xlen_t(k)] = Rf_mkCharCE(df.columns[k].name.c_str(), CE_UTF8);
  }
  cols.attr("names") = names;
  return Rcpp::List::create(Rcpp::_["index"] = utf8_strings(df.index), Rcpp::_["columns"] = cols,
                            Rcpp::_["skipped"] = utf8_strings(df.skipped));
}

std::vector<std::string> strings_from_r(SEXP x, std::vector<uint8_t>* missing) {
  std::vector<std::string> out(size_t(XLENGTH(x)));
  if (missing) missing->assign(out.size(), 0);
  for (size_t i = 0; i < out.size(); ++i) {
    SEXP s = STRING_ELT(x, R_xlen_t(i));
    if (s == NA_STRING) {
      if (!missing) throw Error("names must not be NA");
      (*missing)[i] = 1;
    } else {
      out[i] = Rf_translateCharUTF8(s);
    }
  }
  return out;
}

Column column_from_r(const std::string& where, const std::string& name, SEXP x) {
  Column c;
  c.name = name;
  size_t n = size_t(Rf_xlength(x));
  if (Rf_isFactor(x)) {
    c.kind = Column::Kind::Factor;
    c.ordered = Rf_inherits(x, "ordered");
    c.levels = strings_from_r(Rf_getAttrib(x, R_LevelsSymbol), nullptr);
    const int* v = INTEGER(x);
    for (size_t i = 0; i < n; ++i) c.integers.push_back(v[i] == NA_INTEGER ? -1 : v[i] - 1);
    return c;
  }
  switch (TYPEOF(x)) {
    case REALSXP:
      c.kind = Column::Kind::Double;
      c.doubles.assign(REAL(x), REAL(x) + n);
      return c;
    case INTSXP:
    case LGLSXP: {
      c.kind = TYPEOF(x) == INTSXP ? Column::Kind::Integer : Column::Kind::Logical;
      const int* v = TYPEOF(x) == INTSXP ? INTEGER(x) : LOGICAL(x);
      c.missing.assign(n, 0);
      for (size_t i = 0; i < n; ++i) {
        c.missing[i] = v[i] == NA_INTEGER;
        c.integers.push_back(c.missing[i] ? 0 : v[i]);
      }
      return c;
    }
    case STRSXP:
      c.kind = Column::Kind::String;
      c.strings = strings_from_r(x, &c.missing);
      return c;
    default:
      throw Error("writeH5AD: " + where + " column '" + name + "' is of type " +
                  Rf_type2char(TYPEOF(x)) +
                  "; only numeric, integer, logical, character and factor columns can be written");
  }
}

// list(index = character or NULL, columns = named list of vectors); n rows.
DataFrame frame_from_r(const std::string& where, const Rcpp::List& x, size_t n) {
  DataFrame df;
  SEXP index = x.containsElementNamed("index") ? SEXP(x["index"]) : R_NilValue;
  if (Rf_isNull(index)) {
    for (size_t i = 0; i < n; ++i) df.index.push_back(std::to_string(i));  // anndata's default
  } else {
    if (TYPEOF(index) != STRSXP) throw Error("writeH5AD: the names of " + where + " must be text");
    try {
      df.index = strings_from_r(index, nullptr);
    } catch (const Error&) {
      throw Error("writeH5AD: the names of " + where + " contain NA");
    }
  }
  SEXP columns = x.containsElementNamed("columns") ? SEXP(x["columns"]) : R_NilValue;
  if (Rf_isNull(columns)) return df;
  if (TYPEOF(columns) != VECSXP) throw Error("writeH5AD: the columns of " + where + " must be a list");
  SEXP names = Rf_getAttrib(columns, R_NamesSymbol);
  for (R_xlen_t k = 0; k < XLENGTH(columns); ++k) {
    std::string name = Rf_isNull(names) ? "" : Rf_translateCharUTF8(STRING_ELT(names, k));
    df.columns.push_back(column_from_r(where, name, VECTOR_ELT(columns, k)));
  }
  return df;
}

void guard_h5ad(const std::string& path) {
  run_crash_guard("readH5AD", path, [&] { walk_h5ad_structure(path); });
}

}  // namespace

// Opens the matrix `element` of an h5ad file ("X", a layer name, "layers/<name>",
// "raw/X"): list(reader, n_obs, n_vars, chunks, first_obs, n_obs_file). Reads
// the cells of part `part` of `parts`, or cells first + 1 .. first + count.
// [[Rcpp::export]]
Rcpp::List cs_h5ad_open(std::string path, Rcpp::IntegerVector devices, int n_shards,
                        std::string element = "X", double chunk_nnz = 16777216,
                        double chunk_cells = 100000, int part = 0, int parts = 1,
                        double first = -1, double count = -1) {
  CS_R_BEGIN
  guard_h5ad(path);
  return reader_list(open_h5ad_matrix(path, element, devices_from_r(devices), as_shards(n_shards),
                                      as_limits(chunk_nnz, chunk_cells),
                                      as_share(part, parts, first, count)));
  CS_R_END
}

// What an h5ad file holds: list(n_obs, n_vars, x_encoding, layers, has_raw).
// [[Rcpp::export]]
Rcpp::List cs_h5ad_info(std::string path) {
  CS_R_BEGIN
  guard_h5ad(path);
  H5adSummary s = summarize_h5ad(path);
  return Rcpp::List::create(Rcpp::_["n_obs"] = double(s.n_obs), Rcpp::_["n_vars"] = double(s.n_vars),
                            Rcpp::_["x_encoding"] = s.x_encoding,
                            Rcpp::_["layers"] = utf8_strings(s.layers),
                            Rcpp::_["has_raw"] = s.has_raw);
  CS_R_END
}

// An h5ad dataframe ("obs", "var", "raw/var"): list(index, columns, skipped).
// [[Rcpp::export]]
Rcpp::List cs_h5ad_read_frame(std::string path, std::string group) {
  CS_R_BEGIN
  guard_h5ad(path);
  auto f = h5::File::open("readH5AD", path);
  return frame_to_r(read_h5ad_frame(*f, group));
  CS_R_END
}

// The members of an h5ad file's obsm: list(dense = readable 2-D numeric
// arrays, skipped = the rest).
// [[Rcpp::export]]
Rcpp::List cs_h5ad_obsm_list(std::string path) {
  CS_R_BEGIN
  guard_h5ad(path);
  H5adObsmListing l = list_h5ad_obsm(path);
  return Rcpp::List::create(Rcpp::_["dense"] = utf8_strings(l.dense),
                            Rcpp::_["skipped"] = utf8_strings(l.skipped));
  CS_R_END
}

// Cells first + 1 .. first + count of obsm/<name> as a double matrix.
// [[Rcpp::export]]
Rcpp::NumericMatrix cs_h5ad_read_obsm(std::string path, std::string name, double n_obs,
                                      double first, double count) {
  CS_R_BEGIN
  guard_h5ad(path);
  H5adArray a = read_h5ad_obsm(path, name, size_t(n_obs), size_t(first), size_t(count));
  Rcpp::NumericMatrix m(int(a.rows), int(a.cols));
  for (size_t i = 0; i < a.rows; ++i)
    for (size_t j = 0; j < a.cols; ++j) m[j * a.rows + i] = a.values[i * a.cols + j];
  return m;
  CS_R_END
}

// A Cell Ranger HDF5 file: list(reader, n_obs, n_vars, chunks, first_obs,
// n_obs_file, barcodes (all of the file's), features); part `part` of `parts`.
// [[Rcpp::export]]
Rcpp::List cs_10x_h5_open(std::string path, Rcpp::IntegerVector devices, int n_shards,
                          double chunk_nnz = 16777216, double chunk_cells = 100000,
                          int part = 0, int parts = 1) {
  CS_R_BEGIN
  run_crash_guard("read10xH5", path, [&] { walk_10x_structure(path); });
  TenxH5 t = open_10x_h5(path, devices_from_r(devices), as_shards(n_shards),
                         as_limits(chunk_nnz, chunk_cells), as_share(part, parts, -1, -1));
  Rcpp::List features = frame_to_r(t.features)["columns"];
  return reader_list(std::move(t.reader),
                     Rcpp::List::create(Rcpp::_["barcodes"] = utf8_strings(t.barcodes),
                                        Rcpp::_["features"] = features));
  CS_R_END
}

// A 10x MatrixMarket folder (or .mtx[.gz] file): list(reader, n_obs, n_vars,
// chunks, first_obs, n_obs_file, barcodes (all), features, matrix_path);
// part `part` of `parts`.
// [[Rcpp::export]]
Rcpp::List cs_mtx_open(std::string path, Rcpp::IntegerVector devices, int n_shards,
                       double entries_per_step = 4194304, int part = 0, int parts = 1) {
  CS_R_BEGIN
  if (!(entries_per_step >= 1)) throw Error("entries_per_step must be at least 1");
  TenxMtx t = open_10x_mtx(path, devices_from_r(devices), as_shards(n_shards), int64_t(entries_per_step),
                           as_share(part, parts, -1, -1));
  Rcpp::List features = frame_to_r(t.features)["columns"];
  return reader_list(std::move(t.reader),
                     Rcpp::List::create(Rcpp::_["barcodes"] = utf8_strings(t.barcodes),
                                        Rcpp::_["features"] = features,
                                        Rcpp::_["matrix_path"] = t.matrix_path));
  CS_R_END
}

// All of a 10x MatrixMarket folder at once: list(handle, features, barcodes).
// [[Rcpp::export]]
Rcpp::List cs_read_mtx(std::string path, Rcpp::IntegerVector devices, int n_shards) {
  CS_R_BEGIN
  TenxMtx t = open_10x_mtx(path, devices_from_r(devices), as_shards(n_shards));
  SEXP handle = PROTECT(wrap_matrix(t.reader->finish()));
  Rcpp::List out = Rcpp::List::create(Rcpp::_["handle"] = handle,
                                      Rcpp::_["features"] = frame_to_r(t.features)["columns"],
                                      Rcpp::_["barcodes"] = utf8_strings(t.barcodes));
  UNPROTECT(1);
  return out;
  CS_R_END
}

// Reads up to n_chunks more chunks; returns the chunks done so far (out of `chunks`).
// [[Rcpp::export]]
double cs_reader_step(SEXP reader, int n_chunks) {
  CS_R_BEGIN
  return double(get_reader(reader).step(n_chunks));
  CS_R_END
}

// Reads what is left and returns the matrix handle (cells x genes).
// [[Rcpp::export]]
SEXP cs_reader_finish(SEXP reader) {
  CS_R_BEGIN
  SEXP handle = wrap_matrix(get_reader(reader).finish());
  finalize_reader(reader);  // frees the reader's host buffers now
  return handle;
  CS_R_END
}

// Seconds that the last streaming reader to finish spent in each phase
// (io/reader_phases.h), for bench/load_parts.R.
// [[Rcpp::export]]
Rcpp::NumericVector cs_last_reader_phases() {
  const ReaderPhases& p = last_reader_phases();
  return Rcpp::NumericVector::create(Rcpp::Named("read") = p.read, Rcpp::Named("check") = p.check,
                                     Rcpp::Named("canonical") = p.canonical,
                                     Rcpp::Named("wait") = p.wait, Rcpp::Named("upload") = p.upload);
}

// Drops a reader now (an interrupted read), freeing what it had read.
// [[Rcpp::export]]
void cs_reader_close(SEXP reader) {
  if (TYPEOF(reader) == EXTPTRSXP) finalize_reader(reader);
}

// A named list of numeric arrays as h5ad arrays: a matrix (double, column-major
// in R) becomes rows x cols in row-major order; a vector a 1-D array.
static std::vector<H5adArray> arrays_from_r(const char* where, SEXP list) {
  std::vector<H5adArray> out;
  if (Rf_isNull(list)) return out;
  if (TYPEOF(list) != VECSXP) throw Error(std::string(where) + " must be a list");
  SEXP names = Rf_getAttrib(list, R_NamesSymbol);
  for (R_xlen_t k = 0; k < Rf_xlength(list); ++k) {
    SEXP x = VECTOR_ELT(list, k);
    H5adArray a;
    a.name = Rf_isNull(names) ? "" : Rf_translateCharUTF8(STRING_ELT(names, k));
    if (TYPEOF(x) != REALSXP)
      throw Error(std::string(where) + " '" + a.name + "' must be a double vector or matrix");
    SEXP dim = Rf_getAttrib(x, R_DimSymbol);
    const double* v = REAL(x);  // reads an ALTREP matrix (device scores) into host memory
    if (Rf_isNull(dim)) {
      a.rows = size_t(Rf_xlength(x));
      a.values.assign(v, v + a.rows);
    } else {
      if (Rf_length(dim) != 2)
        throw Error(std::string(where) + " '" + a.name + "' must have 2 dimensions");
      a.rows = size_t(INTEGER(dim)[0]);
      a.cols = size_t(INTEGER(dim)[1]);
      a.values.resize(a.rows * a.cols);
      for (size_t j = 0; j < a.cols; ++j)
        for (size_t i = 0; i < a.rows; ++i) a.values[i * a.cols + j] = v[j * a.rows + i];
    }
    out.push_back(std::move(a));
  }
  return out;
}

// Writes an h5ad file: X from `handle`, obs and var from list(index, columns),
// layers from a named list of handles (same cells and genes); obsm and varm
// from named lists of double matrices (cells / genes x k), uns from a named
// list of double vectors named by path ("pca/variance"); compression is a
// gzip level (0 = none).
// [[Rcpp::export]]
void cs_write_h5ad(std::string path, SEXP handle, Rcpp::List obs, Rcpp::List var,
                   Rcpp::List layers, int compression = 0, SEXP obsm = R_NilValue,
                   SEXP varm = R_NilValue, SEXP uns = R_NilValue) {
  CS_R_BEGIN
  MatrixPtr x = get_matrix(handle);
  std::vector<H5adLayer> ls;
  SEXP names = Rf_getAttrib(layers, R_NamesSymbol);
  for (R_xlen_t k = 0; k < layers.size(); ++k) {
    std::string name = Rf_isNull(names) ? "" : Rf_translateCharUTF8(STRING_ELT(names, k));
    ls.push_back(H5adLayer{name, get_matrix(layers[k])});
  }
  DataFrame o = frame_from_r("obs", obs, size_t(x->n_rows()));
  DataFrame v = frame_from_r("var", var, size_t(x->n_cols()));
  H5adArrays arrays{arrays_from_r("obsm", obsm), arrays_from_r("varm", varm),
                    arrays_from_r("uns", uns)};
  write_h5ad(path, *x, o, v, ls, arrays, compression);
  CS_R_END
}
