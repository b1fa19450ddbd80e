#include "h5ad_writer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include <unistd.h>

#include "../core/errors.h"
#include "../core/shard_stream.h"
#include "h5_writer.h"
#include "h5ad_frame_writer.h"

namespace cellshard {

namespace {

const char* kWho = "writeH5AD";

// A csr_matrix group, filled shard by shard: host memory holds one shard's
// row pointers and at most 2^24 entries of its indices and values at a time.
void write_csr(h5::Writer& w, const std::string& name, const ShardedMatrix& m) {
  const ShardedIndex& idx = m.index();
  int64_t n_rows = m.n_rows(), nnz = m.nnz();
  w.group(name, "csr_matrix", "0.1.0");
  w.int64s_attribute(name, "shape", {n_rows, m.n_cols()});
  w.create<float>(name + "/data", size_t(nnz));
  w.create<int32_t>(name + "/indices", size_t(nnz));
  w.create<int64_t>(name + "/indptr", size_t(n_rows) + 1);
  int64_t zero = 0;
  w.write_range(name + "/indptr", &zero, 0, 1);
  const size_t piece = size_t(1) << 24;
  std::vector<int32_t> indices;
  std::vector<float> values;
  int64_t row = 0, offset = 0;
  for (size_t s = 0; s < idx.shards.size(); ++s) {
    const ShardIndex& sh = *idx.shards[s];
    std::vector<int64_t> ptr(size_t(sh.n_rows) + 1);
    sh.indptr->download(ptr.data(), ptr.size() * sizeof(int64_t));
    for (auto& p : ptr) p += offset;
    w.write_range(name + "/indptr", ptr.data() + 1, size_t(row) + 1, size_t(sh.n_rows));
    if (!sh.indices || !m.values()[s]) {
      // A shard kept only in its source file, or whose values are computed
      // when needed: read whole, written whole.
      indices.resize(size_t(sh.nnz));
      values.resize(size_t(sh.nnz));
      layer_shard_to_host(m, s, nullptr, indices.data(), values.data());
      w.write_range(name + "/indices", indices.data(), size_t(offset), size_t(sh.nnz));
      w.write_range(name + "/data", values.data(), size_t(offset), size_t(sh.nnz));
    } else {
      for (size_t at = 0; at < size_t(sh.nnz); at += piece) {
        size_t n = std::min(piece, size_t(sh.nnz) - at);
        indices.resize(n);
        values.resize(n);
        sh.indices->download(indices.data(), n * sizeof(int32_t), at * sizeof(int32_t));
        m.values()[s]->download(values.data(), n * sizeof(float), at * sizeof(float));
        w.write_range(name + "/indices", indices.data(), size_t(offset) + at, n);
        w.write_range(name + "/data", values.data(), size_t(offset) + at, n);
      }
    }
    row += sh.n_rows;
    offset += sh.nnz;
  }
}

void write_all(h5::Writer& w, const ShardedMatrix& x, const DataFrame& obs, const DataFrame& var,
               const std::vector<H5adLayer>& layers, const H5adArrays& arrays) {
  w.encoding("/", "anndata", "0.1.0");
  write_h5ad_frame(w, "obs", obs, size_t(x.n_rows()));
  write_h5ad_frame(w, "var", var, size_t(x.n_cols()));
  write_csr(w, "X", x);
  w.group("layers", "dict", "0.1.0");
  for (const H5adLayer& l : layers) write_csr(w, "layers/" + l.name, *l.matrix);
  write_h5ad_arrays(w, arrays);
  for (const char* g : {"obsp", "varp"}) w.group(g, "dict", "0.1.0");
}

}  // namespace

void write_h5ad(const std::string& path, const ShardedMatrix& x, const DataFrame& obs,
                const DataFrame& var, const std::vector<H5adLayer>& layers,
                const H5adArrays& arrays, int compression) {
  std::set<std::string> names;
  for (const H5adLayer& l : layers) {
    if (l.name.empty() || l.name.find('/') != std::string::npos || !names.insert(l.name).second)
      throw Error(std::string(kWho) + ": " + path + ": layer names must be distinct, non-empty "
                  "and without '/' ('" + l.name + "')");
    if (!l.matrix || l.matrix->n_rows() != x.n_rows() || l.matrix->n_cols() != x.n_cols())
      throw Error(std::string(kWho) + ": " + path + ": layer '" + l.name +
                  "' does not have the cells and genes of X");
  }
  check_h5ad_arrays(kWho, path, arrays, size_t(x.n_rows()), size_t(x.n_cols()));
  std::string tmp = path + ".tmp" + std::to_string(long(getpid()));
  try {
    auto file = h5::File::create(kWho, tmp, path);
    h5::Writer w(file, compression);
    write_all(w, x, obs, var, layers, arrays);
    file->close();
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(std::string(kWho) + ": " + path + ": cannot replace the file (" + ec.message() + ")");
  }
}

}  // namespace cellshard
