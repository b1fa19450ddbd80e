#include "h5ad_reader.h"

#include "../core/errors.h"
#include "h5_compressed_arrays.h"
#include "h5_csc_reader.h"
#include "h5_csr_stream_reader.h"
#include "h5_dense_reader.h"
#include "h5ad_frame_reader.h"

namespace cellshard {

static const char* kWho = "readH5AD";

std::string h5ad_element_path(const std::string& element) {
  if (element.empty() || element == "X") return "X";
  std::string e = element[0] == '/' ? element.substr(1) : element;
  return e.find('/') != std::string::npos ? e : "layers/" + e;
}

// "csr_matrix", "csc_matrix" or "array"; fails for anything else.
static std::string matrix_encoding(const h5::File& f, const std::string& name) {
  h5::Kind k = f.kind(name);
  if (k == h5::Kind::Missing) f.fail("matrix '" + name + "' is missing");
  if (k == h5::Kind::Dataset) {
    h5::Dataset ds = f.dataset(name);
    if (ds.rank() != 2)
      f.fail("'" + name + "' should be a two-dimensional matrix but has " +
             std::to_string(ds.rank()) + " dimensions");
    return "array";
  }
  if (k != h5::Kind::Group) f.fail("'" + name + "' is neither a dataset nor a group");
  h5::Group g = f.group(name);
  std::string enc = g.encoding_type();
  if (enc.empty()) {
    if (g.has_attribute("h5sparse_format"))
      f.fail("'" + name + "' is a sparse matrix in the layout of anndata before 0.8 "
             "(attribute h5sparse_format), which is not supported; write the file again with "
             "anndata >= 0.8");
    f.fail("'" + name + "' has no encoding-type attribute; not an anndata >= 0.8 matrix");
  }
  if (enc != "csr_matrix" && enc != "csc_matrix")
    f.fail("'" + name + "' has encoding-type '" + enc +
           "', expected 'csr_matrix', 'csc_matrix' or a dense array");
  return enc;
}

H5adSummary summarize_h5ad(const std::string& path) {
  auto f = h5::File::open(kWho, path);
  H5adSummary s;
  s.n_obs = h5ad_frame_length(*f, "obs");
  s.n_vars = h5ad_frame_length(*f, "var");
  if (f->exists("X")) s.x_encoding = matrix_encoding(*f, "X");
  if (f->kind("layers") == h5::Kind::Group) s.layers = f->group("layers").members();
  s.has_raw = f->exists("raw/X");
  return s;
}

namespace {

// A matrix element, its encoding and its shape, checked against obs and var.
struct MatrixElement {
  std::string name, encoding;
  int64_t n_obs = -1, n_vars = -1;
};

MatrixElement inspect_matrix(const h5::File& f, const std::string& element) {
  MatrixElement m;
  m.name = h5ad_element_path(element);
  bool is_raw = m.name.rfind("raw/", 0) == 0;
  if (f.kind(m.name) == h5::Kind::Missing)
    f.fail(m.name == "X" ? std::string("the file has no X (anndata allows that; ask for a layer)")
                         : "matrix '" + m.name + "' is missing");
  m.encoding = matrix_encoding(f, m.name);
  if (m.encoding == "array") {
    h5::Dataset ds = f.dataset(m.name);
    m.n_obs = int64_t(ds.dims()[0]);
    m.n_vars = int64_t(ds.dims()[1]);
  } else {
    std::vector<int64_t> shape = f.group(m.name).ints_attribute("shape");
    if (shape.size() != 2)
      f.fail("attribute 'shape' of '" + m.name + "' should hold 2 numbers, not " +
             std::to_string(shape.size()));
    m.n_obs = shape[0];
    m.n_vars = shape[1];
  }
  // The matrix must agree with obs and var (raw/X has its own var).
  int64_t obs_len = h5ad_frame_length(f, "obs");
  int64_t var_len = h5ad_frame_length(f, is_raw ? "raw/var" : "var");
  if (obs_len >= 0 && obs_len != m.n_obs)
    f.fail("'" + m.name + "' has " + std::to_string(m.n_obs) + " cells (rows) but obs has " +
           std::to_string(obs_len));
  if (var_len >= 0 && var_len != m.n_vars)
    f.fail("'" + m.name + "' has " + std::to_string(m.n_vars) + " genes (columns) but " +
           (is_raw ? "raw/var" : "var") + " has " + std::to_string(var_len));
  return m;
}

CompressedArrays open_arrays(std::shared_ptr<const h5::File> f, const MatrixElement& m) {
  return m.encoding == "csr_matrix" ? open_compressed_arrays(f, m.name, m.n_obs, m.n_vars, "cell")
                                    : open_compressed_arrays(f, m.name, m.n_vars, m.n_obs, "gene");
}

}  // namespace

std::unique_ptr<ChunkedReader> open_h5ad_matrix(const std::string& path,
                                                const std::string& element,
                                                const std::vector<int>& devices,
                                                size_t n_shards, const ChunkLimits& limits,
                                                const RowShare& share) {
  std::shared_ptr<const h5::File> f = h5::File::open(kWho, path);
  MatrixElement m = inspect_matrix(*f, element);
  if (m.encoding == "array")
    return std::unique_ptr<ChunkedReader>(
        new H5DenseReader(f->dataset(m.name), devices, n_shards, limits, share));
  if (m.encoding == "csr_matrix")
    return std::unique_ptr<ChunkedReader>(
        new H5CsrStreamReader(open_arrays(f, m), devices, n_shards, limits, share));
  return std::unique_ptr<ChunkedReader>(
      new H5CscReader(open_arrays(f, m), devices, n_shards, limits, share));
}

void walk_h5ad_structure(const std::string& path) {
  std::shared_ptr<const h5::File> f = h5::File::open(kWho, path);
  H5adSummary s = summarize_h5ad(path);
  for (const char* frame : {"obs", "var", "raw/var"})
    if (f->exists(frame)) read_h5ad_frame(*f, frame);
  std::vector<std::string> elements;
  if (!s.x_encoding.empty()) elements.push_back("X");
  for (const auto& l : s.layers) elements.push_back("layers/" + l);
  if (s.has_raw) elements.push_back("raw/X");
  for (const auto& e : elements) {
    MatrixElement m = inspect_matrix(*f, e);
    if (m.encoding == "array") {
      h5::Dataset ds = f->dataset(m.name);
      ds.require_numbers(false);
    } else {
      open_arrays(f, m);
    }
  }
}

}  // namespace cellshard
