// Rcpp glue for the sharded matrix: construction from R matrices, subsetting,
// statistics, transfer to the host, rebalancing, release. Orientation: the
// core is cells x genes; R's dgCMatrix of genes x cells is the same arrays.
#include <Rcpp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/memory_budget.h"
#include "core/operations.h"
#include "core/parallel_for.h"
#include "core/shard_stream.h"
#include "r_handle.h"
#include "r_host_vector.h"

using namespace cellshard;

namespace {

// 1-based R indices (NULL = all) to 0-based, checked against n.
std::vector<int64_t> as_index(SEXP idx, int64_t n, const char* what) {
  std::vector<int64_t> out;
  if (Rf_isNull(idx)) {
    out.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = i;
    return out;
  }
  auto take = [&](double x) {
    if (std::isnan(x) || x < 1 || x > double(n) || x != std::floor(x))
      throw Error(std::string(what) + " index " + (std::isnan(x) ? "NA" : std::to_string(x)) +
                  " is out of range: valid indices are 1.." + std::to_string(n));
    out.push_back(int64_t(x) - 1);
  };
  // integers as they are (a double copy of millions of cell indices is 8 bytes each)
  if (TYPEOF(idx) == INTSXP) {
    const int* v = INTEGER(idx);
    out.reserve(size_t(XLENGTH(idx)));
    for (R_xlen_t k = 0; k < XLENGTH(idx); ++k)
      take(v[k] == NA_INTEGER ? std::nan("") : double(v[k]));
    return out;
  }
  Rcpp::NumericVector v(idx);
  out.reserve(size_t(v.size()));
  for (double x : v) take(x);
  return out;
}

// Shards of the given numbers of cells when `shard_cells` is not empty, else
// n_shards shards balanced by non-zeros (row_ptr) or by cells: more when
// the matrix (`bytes` of index and values) must stream under the devices'
// budget, so that the shards that stream are small (core/memory_budget.h).
Placement make_placement(const std::vector<int64_t>* row_ptr, int64_t n_rows,
                         const Rcpp::IntegerVector& devices, int n_shards,
                         const Rcpp::NumericVector& shard_cells, double bytes) {
  std::vector<int> devs = devices_from_r(devices);
  if (shard_cells.size() == 0) {
    if (n_shards >= 1)
      n_shards = int(shards_for_budget(size_t(n_shards), bytes, devs.front(), devs.size()));
    return row_ptr ? balanced_placement(*row_ptr, devs, size_t(n_shards))
                   : even_placement(n_rows, devs, size_t(n_shards));
  }
  Placement p;
  int64_t total = 0;
  for (R_xlen_t s = 0; s < shard_cells.size(); ++s) {
    double c = shard_cells[s];
    if (!(c >= 1) || c != std::floor(c)) throw Error("shard sizes must be positive whole numbers");
    p.rows.push_back(int64_t(c));
    p.devices.push_back(devs[size_t(s) % devs.size()]);
    total += int64_t(c);
  }
  if (total != n_rows)
    throw Error("the shard sizes add up to " + std::to_string(total) + " cells, but the matrix has " +
                std::to_string(n_rows));
  return p;
}

}  // namespace

// [[Rcpp::export]]
SEXP cs_from_csc(Rcpp::IntegerVector i, Rcpp::NumericVector p, Rcpp::NumericVector x, double n_genes,
                 double n_cells, Rcpp::IntegerVector devices, int n_shards,
                 Rcpp::NumericVector shard_cells) {
  CS_R_BEGIN
  // A dgCMatrix of genes x cells is CSR of cells x genes.
  HostCsr csr;
  csr.n_rows = int64_t(n_cells);
  csr.n_cols = int64_t(n_genes);
  CS_CHECK(p.size() == csr.n_rows + 1, "column pointers do not match the number of cells");
  csr.indptr.assign(p.begin(), p.end());
  CS_CHECK(csr.indptr.front() == 0 && csr.indptr.back() == i.size() && i.size() == x.size(),
           "the sparse matrix's arrays disagree");
  csr.indices.assign(i.begin(), i.end());
  csr.values.resize(size_t(x.size()));
  for (R_xlen_t k = 0; k < x.size(); ++k) {
    if (!std::isfinite(x[k]))
      throw Error("the counts contain NaN, NA or infinite values (first at non-zero " +
                  std::to_string(k + 1) + "); clean them before sending the matrix to the devices");
    csr.values[size_t(k)] = float(x[k]);
  }
  for (int32_t g : csr.indices)
    CS_CHECK(g >= 0 && g < csr.n_cols, "a row index of the sparse matrix is out of range");
  Placement place = make_placement(&csr.indptr, csr.n_rows, devices, n_shards, shard_cells,
                                   double(csr.n_rows + 1) * 8 + double(csr.indices.size()) * 8);
  return wrap_matrix(from_host(csr, place));
  CS_R_END
}

// [[Rcpp::export]]
SEXP cs_from_dense(Rcpp::NumericMatrix m, Rcpp::IntegerVector devices, int n_shards,
                   Rcpp::NumericVector shard_cells) {
  CS_R_BEGIN
  // m is genes x cells, column-major: each column is one cell's row of the CSR.
  HostCsr csr;
  csr.n_cols = m.nrow();
  csr.n_rows = m.ncol();
  csr.indptr.assign(size_t(csr.n_rows) + 1, 0);
  for (int64_t c = 0; c < csr.n_rows; ++c) {
    for (int64_t g = 0; g < csr.n_cols; ++g) {
      double v = m(int(g), int(c));
      if (!std::isfinite(v))
        throw Error("the counts contain NaN, NA or infinite values (gene " + std::to_string(g + 1) +
                    ", cell " + std::to_string(c + 1) + ")");
      if (v != 0) {
        csr.indices.push_back(int32_t(g));
        csr.values.push_back(float(v));
      }
    }
    csr.indptr[size_t(c) + 1] = int64_t(csr.indices.size());
  }
  Placement place = make_placement(&csr.indptr, csr.n_rows, devices, n_shards, shard_cells,
                                   double(csr.n_rows + 1) * 8 + double(csr.indices.size()) * 8);
  return wrap_matrix(from_host(csr, place));
  CS_R_END
}

// [[Rcpp::export]]
SEXP cs_with_values(SEXP like, Rcpp::NumericVector x) {
  CS_R_BEGIN
  // A new layer over the index of `like`: x holds its non-zeros in cell order.
  MatrixPtr m = get_matrix(like);
  std::vector<float> values(size_t(x.size()));
  for (R_xlen_t k = 0; k < x.size(); ++k) {
    if (!std::isfinite(x[k]))
      throw Error("the values contain NaN, NA or infinite values (first at non-zero " +
                  std::to_string(k + 1) + ")");
    values[size_t(k)] = float(x[k]);
  }
  return wrap_matrix(with_host_values(*m, values));
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::List cs_to_csc(SEXP handle) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  if (m->nnz() > std::numeric_limits<int>::max())
    throw Error("this matrix has " + std::to_string(m->nnz()) +
                " non-zeros, more than a dgCMatrix can hold (2^31 - 1); subset it first");
  HostCsr csr = to_host(*m);
  Rcpp::IntegerVector i(csr.indices.begin(), csr.indices.end());
  Rcpp::IntegerVector p(csr.indptr.begin(), csr.indptr.end());
  Rcpp::NumericVector x(csr.values.begin(), csr.values.end());
  return Rcpp::List::create(Rcpp::_["i"] = i, Rcpp::_["p"] = p, Rcpp::_["x"] = x,
                            Rcpp::_["n_genes"] = double(csr.n_cols),
                            Rcpp::_["n_cells"] = double(csr.n_rows));
  CS_R_END
}

// [[Rcpp::export]]
SEXP cs_subset(SEXP handle, SEXP cells, SEXP genes) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  if (Rf_isNull(cells))  // every cell: no work per cell on the host
    return wrap_matrix(subset_genes(*m, make_gene_map(m->n_cols(), as_index(genes, m->n_cols(), "gene"))));
  std::vector<int64_t> rows = as_index(cells, m->n_rows(), "cell");
  GeneMap map = make_gene_map(m->n_cols(), as_index(genes, m->n_cols(), "gene"));
  return wrap_matrix(subset(*m, rows, map, /*cell_totals=*/true));
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::NumericMatrix cs_extract_dense(SEXP handle, SEXP cells, SEXP genes) {
  CS_R_BEGIN
  // Returns genes x cells (the R orientation) for the requested indices.
  MatrixPtr m = get_matrix(handle);
  std::vector<int64_t> rows = as_index(cells, m->n_rows(), "cell");
  GeneMap map = make_gene_map(m->n_cols(), as_index(genes, m->n_cols(), "gene"));
  Rcpp::NumericMatrix out(int(map.n_out), int(rows.size()));
  if (rows.empty() || map.n_out == 0) return out;
  HostCsr csr = to_host(*subset(*m, rows, map));
  for (int64_t r = 0; r < csr.n_rows; ++r)
    for (int64_t k = csr.indptr[size_t(r)]; k < csr.indptr[size_t(r) + 1]; ++k)
      out(csr.indices[size_t(k)], int(r)) = csr.values[size_t(k)];
  return out;
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::List cs_extract_sparse(SEXP handle, SEXP cells, SEXP genes) {
  CS_R_BEGIN
  // Non-zeros of the selection as 1-based (gene, cell) coordinates and values.
  MatrixPtr m = get_matrix(handle);
  std::vector<int64_t> rows = as_index(cells, m->n_rows(), "cell");
  GeneMap map = make_gene_map(m->n_cols(), as_index(genes, m->n_cols(), "gene"));
  HostCsr csr;
  if (!rows.empty()) csr = to_host(*subset(*m, rows, map));
  size_t nnz = csr.indices.size();
  Rcpp::IntegerVector gi(nnz), ci(nnz);
  Rcpp::NumericVector x(nnz);
  for (int64_t r = 0; r < csr.n_rows; ++r)
    for (int64_t k = csr.indptr[size_t(r)]; k < csr.indptr[size_t(r) + 1]; ++k) {
      gi[k] = csr.indices[size_t(k)] + 1;
      ci[k] = int(r) + 1;
      x[k] = csr.values[size_t(k)];
    }
  return Rcpp::List::create(Rcpp::_["gene"] = gi, Rcpp::_["cell"] = ci, Rcpp::_["x"] = x);
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::List cs_cell_stats(SEXP handle) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  // per cell: vectors outside R's heap (r_host_vector.h), written by host threads
  const size_t n = size_t(m->n_rows());
  HostDoubles sums(n), n_positive(n);
  std::vector<int64_t, NoInitAllocator<int64_t>> pos(n);
  row_stats(*m, sums.data(), pos.data());
  parallel_items(n, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) n_positive[i] = double(pos[i]);
  });
  return Rcpp::List::create(Rcpp::_["sum"] = host_doubles(std::move(sums)),
                            Rcpp::_["n_positive"] = host_doubles(std::move(n_positive)));
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::List cs_gene_stats(SEXP handle) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  std::vector<double> sums(size_t(m->n_cols()));
  std::vector<int64_t> pos(size_t(m->n_cols()));
  col_stats(*m, sums.data(), pos.data());
  return Rcpp::List::create(Rcpp::_["sum"] = Rcpp::wrap(sums),
                            Rcpp::_["n_positive"] = Rcpp::NumericVector(pos.begin(), pos.end()));
  CS_R_END
}

// [[Rcpp::export]]
SEXP cs_rebalance(SEXP handle, Rcpp::IntegerVector devices, int n_shards,
                  Rcpp::NumericVector shard_cells) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  double bytes = double(m->n_rows() + 1) * 8 + double(m->nnz()) * 8;
  return wrap_matrix(
      rebalance(*m, make_placement(nullptr, m->n_rows(), devices, n_shards, shard_cells, bytes)));
  CS_R_END
}

// [[Rcpp::export]]
Rcpp::List cs_matrix_layout(SEXP handle) {
  CS_R_BEGIN
  MatrixPtr m = get_matrix(handle);
  const ShardedIndex& idx = m->index();
  Rcpp::NumericVector rows, nnz;
  Rcpp::IntegerVector devices;
  Rcpp::CharacterVector homes;
  for (size_t k = 0; k < idx.shards.size(); ++k) {
    const auto& s = idx.shards[k];
    rows.push_back(double(s->n_rows));
    nnz.push_back(double(s->nnz));
    devices.push_back(s->device);
    // Where the shard is between passes (its values; the index goes with them).
    const BufferPtr& v = m->values()[k];
    homes.push_back(m->computed(k) || m->gathered(k) ? "computed"
                    : !v && s->source ? "file"
                    : (!v || v->device() == s->device) && shard_resident(idx, {}, k) ? "device"
                                                                                      : "pinned");
  }
  Residency r = residency_of(*m);
  return Rcpp::List::create(
      Rcpp::_["n_cells"] = double(m->n_rows()), Rcpp::_["n_genes"] = double(m->n_cols()),
      Rcpp::_["nnz"] = double(m->nnz()), Rcpp::_["shard_cells"] = rows, Rcpp::_["shard_nnz"] = nnz,
      Rcpp::_["shard_device"] = devices, Rcpp::_["value_bytes"] = double(m->value_bytes()),
      Rcpp::_["index_bytes"] = double(m->index_bytes()), Rcpp::_["shard_home"] = homes,
      Rcpp::_["bytes_device"] = r.device, Rcpp::_["bytes_pinned"] = r.pinned,
      Rcpp::_["bytes_file"] = r.file,
      Rcpp::_["index_id"] = Rcpp::String(std::to_string(reinterpret_cast<uintptr_t>(&idx))));
  CS_R_END
}

// [[Rcpp::export]]
void cs_probe_allocation(int device, double bytes) {
  CS_R_BEGIN
  // Allocates and frees at once: lets tests and users check that a size fits.
  Buffer probe(device, size_t(bytes));
  CS_R_END
}

// [[Rcpp::export]]
bool cs_handle_valid(SEXP handle) {
  if (TYPEOF(handle) != EXTPTRSXP) return false;
  auto* h = static_cast<MatrixHandle*>(R_ExternalPtrAddr(handle));
  return h && h->matrix;
}

// [[Rcpp::export]]
void cs_free(SEXP handle) { free_matrix(handle); }

// [[Rcpp::export]]
void cs_release_unused_device_memory() { release_unused_device_memory(); }
