#include "pipeline_passes.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "cluster.h"
#include "cluster_collectives.h"
#include "device_partials.h"
#include "eigen_order.h"
#include "errors.h"
#include "memory_budget.h"
#include "operations.h"
#include "progress.h"
#include "shard_stream.h"
#include "write_back.h"

namespace cellshard {

namespace {

PipelineKernels& kernels_of(const ShardIndex& sh) { return pipeline_kernels_for(sh.device); }

// Copies a per-shard block of a [k x n_shard_rows] host result into the
// [k x n_cells] whole-matrix array.
void scatter_rows(const std::vector<double>& part, int64_t n_shard_rows, int64_t first_row,
                  int64_t n_cells, size_t k, double* out) {
  for (size_t j = 0; j < k; ++j)
    std::copy(part.begin() + int64_t(j) * n_shard_rows, part.begin() + int64_t(j + 1) * n_shard_rows,
              out + int64_t(j) * n_cells + first_row);
}

std::vector<double> copy_of(const double* from, int64_t n) {
  return from ? std::vector<double>(from, from + n) : std::vector<double>();
}

// A recipe applying `map` to m's values, with its own copies of the map's
// per-cell and per-gene arrays (R may free the ones passed in).
std::shared_ptr<ValueRecipe> make_recipe(const ShardedMatrix& m, const ValueMap& map) {
  auto r = std::make_shared<ValueRecipe>();
  r->base = m.shared_from_this();
  r->map = map;
  r->map.row_factor = r->map.col_factor = r->map.col_offset = nullptr;
  r->row_factor = copy_of(map.row_factor, m.n_rows());
  r->col_factor = copy_of(map.col_factor, m.n_cols());
  r->col_offset = copy_of(map.col_offset, m.n_cols());
  return r;
}

// `then` applied after m's recipe, as one map of the recipe's base, when the
// two fit one ValueMap (op(x * row) * col + offset, clipped): the first has
// no per-gene terms and no clip, the second no per-cell factor and no op, as
// scaling logcounts that normalizeTotal made. Else null.
std::shared_ptr<ValueRecipe> composed_recipe(const ShardedMatrix& m, const ValueMap& then) {
  const ValueRecipe* first = m.recipe().get();
  if (!first) return nullptr;
  const ValueMap& a = first->map;
  const bool a_cells_only = !first->per_gene() && !a.float_after_op && std::isinf(a.lo) &&
                            a.lo < 0 && std::isinf(a.hi) && a.hi > 0;
  if (!a_cells_only || then.row_factor || then.op != ValueMap::Op::None) return nullptr;
  auto r = std::make_shared<ValueRecipe>(*first);
  r->col_factor = copy_of(then.col_factor, m.n_cols());
  r->col_offset = copy_of(then.col_offset, m.n_cols());
  r->map.lo = then.lo;
  r->map.hi = then.hi;
  r->map.float_after_op = true;  // the first map's values were floats
  return r;
}

// Per-gene moments of f(x), accumulated on each device that holds shards and
// summed over devices (and ranks) at the end: what column_moments and the QC
// pass's gene totals share.
class GeneMoments {
 public:
  explicit GeneMoments(const ShardedIndex& idx)
      : n_(size_t(idx.n_cols)), partials_(shard_devices(idx), 3 * n_) {}

  void add(const ShardIndex& sh, const ShardViews& v, const MomentOptions& options) {
    double* acc = partials_.on(sh.device);
    kernels_of(sh).col_moments(v.index, v.values[0], options, {acc, acc + n_, acc + 2 * n_});
  }

  // The totals, into arrays of n_cols (sum_sq may be null: not wanted).
  void to_host(double* sum, double* sum_sq, int64_t* n_positive) {
    partials_.all_reduce();
    std::vector<double> total = partials_.to_host();
    std::copy(total.begin(), total.begin() + n_, sum);
    if (sum_sq) std::copy(total.begin() + n_, total.begin() + 2 * n_, sum_sq);
    for (size_t g = 0; g < n_; ++g) n_positive[g] = int64_t(total[2 * n_ + g]);
  }

 private:
  size_t n_;
  DevicePartials partials_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

MatrixPtr map_layer(const ShardedMatrix& m, const ValueMap& map) {
  const ShardedIndex& idx = m.index();
  std::vector<int64_t> off = idx.row_offsets();
  // Shards kept off their devices are not mapped now: the new layer's recipe
  // maps them whenever a pass stages them (no pass over them here, nothing
  // written back). Shards m computes stay computed when the two maps make
  // one; shards of one layer share one recipe, so the rest are mapped now.
  bool any_computed = false;
  for (size_t s = 0; s < idx.shards.size(); ++s) any_computed = any_computed || m.computed(s);
  std::shared_ptr<ValueRecipe> recipe = any_computed ? composed_recipe(m, map) : nullptr;
  const bool composing = recipe != nullptr;
  std::vector<size_t> mapped_now;
  for (size_t s = 0; s < idx.shards.size(); ++s) {
    const bool stays_computed = m.computed(s) && composing;
    const bool becomes_computed = !m.computed(s) && !composing && !shard_resident(idx, {&m}, s);
    if (becomes_computed && !recipe) recipe = make_recipe(m, map);
    if (!stays_computed && !becomes_computed) mapped_now.push_back(s);
  }
  std::vector<BufferPtr> out(idx.shards.size());
  WriteBack write_back;  // after `out`: gone before it
  for_each_staged(idx, {&m}, mapped_now, [&](size_t k, const ShardViews& v) {
    const size_t s = mapped_now[k];
    const ShardIndex& sh = *idx.shards[s];
    const size_t bytes = size_t(sh.nnz) * sizeof(float);
    ValueMap local = map;
    if (map.row_factor) local.row_factor = map.row_factor + off[s];
    // A shard that streamed in (or has no room left on its device) streams
    // its new values out to pinned host memory.
    const bool keep = !v.staged && keep_on_device(sh.device, bytes);
    BufferPtr result = make_buffer(sh.device, bytes);
    kernels_of(sh).map_values(v.index, v.values[0], result->as<float>(), local);
    if (keep) out[s] = result;
    else write_back.put(result, &out[s]);
  });
  write_back.finish();
  return std::make_shared<ShardedMatrix>(m.shared_index(), std::move(out), std::move(recipe));
}

void column_moments(const ShardedMatrix& m, const MomentOptions& options, double* sum,
                    double* sum_sq, int64_t* n_positive) {
  const ShardedIndex& idx = m.index();
  GeneMoments moments(idx);
  for_each_staged(idx, {&m}, [&](size_t s, const ShardViews& v) {
    moments.add(*idx.shards[s], v, options);
  });
  moments.to_host(sum, sum_sq, n_positive);
}

void subset_sums(const ShardedMatrix& m, const std::vector<uint32_t>& gene_bits, int n_subsets,
                 double* out) {
  cell_qc(m, gene_bits, n_subsets, nullptr, nullptr, out);  // the QC pass without its statistics
}

void cell_qc(const ShardedMatrix& m, const std::vector<uint32_t>& gene_bits, int n_subsets,
             double* sums, int64_t* n_positive, double* subset_out, GeneTotals genes) {
  const ShardedIndex& idx = m.index();
  CS_CHECK(int64_t(gene_bits.size()) == idx.n_cols, "internal: one subset mask per gene");
  CS_CHECK(n_subsets >= 0 && n_subsets <= 32, "at most 32 gene subsets");
  std::vector<int64_t> off = idx.row_offsets();
  std::unique_ptr<GeneMoments> gene_moments;
  if (genes.sum) gene_moments.reset(new GeneMoments(idx));
  for_each_staged(idx, {&m}, [&](size_t s, const ShardViews& v) {
    const ShardIndex& sh = *idx.shards[s];
    // One subset (or one shard) lands in place; more go through a block per shard.
    const bool in_place = n_subsets <= 1 || idx.shards.size() == 1;
    std::vector<double> part(in_place ? 0 : size_t(n_subsets) * size_t(sh.n_rows));
    const AxisStats stats = sums ? AxisStats{sums + off[s], n_positive + off[s]} : AxisStats{};
    kernels_of(sh).row_qc(v.index, v.values[0], gene_bits.data(), n_subsets, stats,
                          n_subsets == 0 ? nullptr : in_place ? subset_out + off[s] : part.data());
    if (!in_place) scatter_rows(part, sh.n_rows, off[s], off.back(), size_t(n_subsets), subset_out);
    // The per-gene totals from the same staged shard: a streamed shard crosses the link once.
    if (gene_moments) gene_moments->add(sh, v, MomentOptions());
  });
  if (gene_moments) gene_moments->to_host(genes.sum, nullptr, genes.n_positive);
}

void top_sums(const ShardedMatrix& m, const std::vector<int>& ns, double* out) {
  const ShardedIndex& idx = m.index();
  std::vector<int64_t> off = idx.row_offsets();
  for_each_staged(idx, {&m}, [&](size_t s, const ShardViews& v) {
    const ShardIndex& sh = *idx.shards[s];
    std::vector<double> part(ns.size() * size_t(sh.n_rows));
    kernels_of(sh).row_top_sums(v.index, v.values[0], ns, part.data());
    scatter_rows(part, sh.n_rows, off[s], off.back(), ns.size(), out);
  });
}

std::vector<uint8_t> dominant_genes(const ShardedMatrix& m, const double* row_total,
                                    double fraction) {
  const ShardedIndex& idx = m.index();
  std::vector<int64_t> off = idx.row_offsets();
  DevicePartials partials(shard_devices(idx), size_t(idx.n_cols));
  for_each_staged(idx, {&m}, [&](size_t s, const ShardViews& v) {
    const ShardIndex& sh = *idx.shards[s];
    kernels_of(sh).flag_dominant_genes(v.index, v.values[0], row_total + off[s], fraction,
                                       partials.on(sh.device));
  });
  partials.all_reduce();
  std::vector<double> count = partials.to_host();
  std::vector<uint8_t> flags(count.size());
  for (size_t g = 0; g < flags.size(); ++g) flags[g] = count[g] > 0;
  return flags;
}

Eigenpairs covariance_eigen(const ShardedMatrix& d, const std::vector<double>& background,
                            const std::vector<double>& col_sums, bool zero_center, int k) {
  const ShardedIndex& idx = d.index();
  const int64_t n_genes = idx.n_cols;
  // Every cell of the job counts (the other ranks' too).
  const double n = double(cluster_sum(idx.n_rows(), "counting the cells for the PCA"));
  CS_CHECK(k >= 1 && k <= n_genes, "internal: eigenpairs requested out of range");
  CS_CHECK(background.empty() || int64_t(background.size()) == n_genes,
           "internal: one background value per gene");
  CS_CHECK(int64_t(col_sums.size()) == n_genes, "internal: one column sum per gene");
  const size_t g = size_t(n_genes);
  const std::vector<double>& sum = col_sums;

  const auto started = std::chrono::steady_clock::now();
  DevicePartials gram(shard_devices(idx), g * g);
  progress_phase("Gram matrix", int64_t(idx.shards.size()));
  for_each_staged(idx, {&d}, [&](size_t s, const ShardViews& v) {
    const ShardIndex& sh = *idx.shards[s];
    kernels_of(sh).gram(v.index, v.values[0], gram.on(sh.device));
    progress_advance(1);
  });
  gram.all_reduce();

  // X^T X = D^T D + s b^T + b s^T + n b b^T, with s the column sums of D;
  // the covariance is X^T X / n - mu mu^T with mu = s / n + b.
  const std::vector<double> b = background.empty() ? std::vector<double>(g, 0.0) : background;
  const bool has_background = std::any_of(b.begin(), b.end(), [](double v) { return v != 0.0; });
  std::vector<double> mu(g);
  for (size_t j = 0; j < g; ++j) mu[j] = sum[j] / n + b[j];
  const double scale = zero_center ? 1.0 / n : 1.0;
  std::vector<OuterProduct> terms;
  if (has_background) {
    terms.push_back({scale, sum.data(), b.data()});
    terms.push_back({scale, b.data(), sum.data()});
    terms.push_back({scale * n, b.data(), b.data()});
  }
  if (zero_center) terms.push_back({-1.0, mu.data(), mu.data()});

  Eigenpairs out;
  out.values.resize(size_t(k));
  out.vectors.resize(g * size_t(k));
  // In an MPI job rank 0 alone decomposes (every rank holds the same matrix)
  // and broadcasts, so the basis is the same bits on every rank whatever
  // each rank's eigensolver or hardware would give.
  if (cluster_rank() == 0) {
    const int device = gram.first_device();
    PipelineKernels& kernels = pipeline_kernels_for(device);
    double* a = gram.on(device);
    if (scale != 1.0 || !terms.empty()) kernels.add_outer_products(device, a, n_genes, scale, terms);
    out.gram_seconds = seconds_since(started);
    const auto eigen_started = std::chrono::steady_clock::now();
    progress_phase("eigendecomposition", 0);
    kernels.top_eigen(device, a, n_genes, k, out.values.data(), out.vectors.data());
    largest_loading_positive(int64_t(n_genes), k, out.vectors.data());
    out.eigen_seconds = seconds_since(eigen_started);
  } else {
    out.gram_seconds = seconds_since(started);
  }
  if (cluster_active()) {
    const auto waited = std::chrono::steady_clock::now();
    cluster_broadcast(out.values.data(), out.values.size() * sizeof(double), 0,
                      "sharing the PCA eigenvalues from rank 0");
    cluster_broadcast(out.vectors.data(), out.vectors.size() * sizeof(double), 0,
                      "sharing the PCA basis from rank 0");
    if (cluster_rank() != 0) out.eigen_seconds = seconds_since(waited);
  }
  // X V = D V + 1 b^T V, less 1 mu^T V when centred: the scores' offsets,
  // each a sum in the genes' order (as R's crossprod with the reference BLAS).
  std::vector<double> center(b);
  if (zero_center)
    for (size_t i = 0; i < g; ++i) center[i] -= mu[i];
  out.shift.assign(size_t(k), 0.0);
  for (int j = 0; j < k; ++j) {
    const double* v = out.vectors.data() + size_t(j) * g;
    double s = 0;
    for (size_t i = 0; i < g; ++i) s += center[i] * v[i];
    out.shift[size_t(j)] = s;
  }
  return out;
}

DenseShardsPtr multiply_matrix(const ShardedMatrix& m, const double* v, int k,
                               const double* shift) {
  const ShardedIndex& idx = m.index();
  const std::vector<float> v_float(v, v + size_t(idx.n_cols) * size_t(k));
  auto out = std::make_shared<DenseShards>();
  out->n_cols = k;
  out->shards.resize(idx.shards.size());
  progress_phase("projection", int64_t(idx.shards.size()));
  for_each_staged(idx, {&m}, [&](size_t s, const ShardViews& views) {
    const ShardIndex& sh = *idx.shards[s];
    DenseShard& d = out->shards[s];
    d.n_rows = sh.n_rows;
    if (sh.n_rows > 0 && k > 0) {
      d.values = make_buffer(sh.device, size_t(sh.n_rows) * size_t(k) * sizeof(double));
      kernels_of(sh).multiply(views.index, views.values[0], v_float.data(), k, shift,
                              d.values->as<double>(), sh.n_rows);
    }
    progress_advance(1);
  });
  return out;
}

}  // namespace cellshard
