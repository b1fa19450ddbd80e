#include "pipeline_passes.h"

#include "errors.h"
#include "operations.h"

namespace cellshard {

namespace {

const float* values_of(const ShardedMatrix& m, size_t s) {
  const BufferPtr& v = m.values()[s];
  return v ? v->as<float>() : nullptr;
}

PipelineKernels& kernels_of(const ShardIndex& sh) { return pipeline_kernels_for(sh.device); }

// Copies a per-shard block of a [k x n_shard_rows] host result into the
// [k x n_cells] whole-matrix array.
void scatter_rows(const std::vector<double>& part, int64_t n_shard_rows, int64_t first_row,
                  int64_t n_cells, size_t k, double* out) {
  for (size_t j = 0; j < k; ++j)
    std::copy(part.begin() + int64_t(j) * n_shard_rows, part.begin() + int64_t(j + 1) * n_shard_rows,
              out + int64_t(j) * n_cells + first_row);
}

}  // namespace

MatrixPtr map_layer(const ShardedMatrix& m, const ValueMap& map) {
  const ShardedIndex& idx = m.index();
  std::vector<int64_t> off = idx.row_offsets();
  std::vector<BufferPtr> out(idx.shards.size());
  for_each_shard(shard_devices(idx), [&](size_t s) {
    const ShardIndex& sh = *idx.shards[s];
    out[s] = make_buffer(sh.device, size_t(sh.nnz) * sizeof(float));
    ValueMap local = map;
    if (map.row_factor) local.row_factor = map.row_factor + off[s];
    kernels_of(sh).map_values(sh.view(), values_of(m, s), out[s]->as<float>(), local);
  });
  return std::make_shared<ShardedMatrix>(m.shared_index(), std::move(out));
}

void column_moments(const ShardedMatrix& m, const MomentOptions& options, double* sum,
                    double* sum_sq, int64_t* n_positive) {
  const ShardedIndex& idx = m.index();
  size_t n = size_t(idx.n_cols), k = idx.shards.size();
  std::vector<std::vector<double>> s1(k, std::vector<double>(n)), s2(k, std::vector<double>(n));
  std::vector<std::vector<int64_t>> pos(k, std::vector<int64_t>(n));
  for_each_shard(shard_devices(idx), [&](size_t s) {
    const ShardIndex& sh = *idx.shards[s];
    kernels_of(sh).col_moments(sh.view(), values_of(m, s), options,
                               {s1[s].data(), s2[s].data(), pos[s].data()});
  });
  std::fill(sum, sum + n, 0.0);
  std::fill(sum_sq, sum_sq + n, 0.0);
  std::fill(n_positive, n_positive + n, int64_t(0));
  for (size_t s = 0; s < k; ++s)
    for (size_t g = 0; g < n; ++g) {
      sum[g] += s1[s][g];
      sum_sq[g] += s2[s][g];
      n_positive[g] += pos[s][g];
    }
}

void subset_sums(const ShardedMatrix& m, const std::vector<uint32_t>& gene_bits, int n_subsets,
                 double* out) {
  const ShardedIndex& idx = m.index();
  CS_CHECK(int64_t(gene_bits.size()) == idx.n_cols, "internal: one subset mask per gene");
  CS_CHECK(n_subsets >= 0 && n_subsets <= 32, "at most 32 gene subsets");
  std::vector<int64_t> off = idx.row_offsets();
  for_each_shard(shard_devices(idx), [&](size_t s) {
    const ShardIndex& sh = *idx.shards[s];
    std::vector<double> part(size_t(n_subsets) * size_t(sh.n_rows));
    kernels_of(sh).row_subset_sums(sh.view(), values_of(m, s), gene_bits.data(), n_subsets,
                                   part.data());
    scatter_rows(part, sh.n_rows, off[s], off.back(), size_t(n_subsets), out);
  });
}

void top_sums(const ShardedMatrix& m, const std::vector<int>& ns, double* out) {
  const ShardedIndex& idx = m.index();
  std::vector<int64_t> off = idx.row_offsets();
  for_each_shard(shard_devices(idx), [&](size_t s) {
    const ShardIndex& sh = *idx.shards[s];
    std::vector<double> part(ns.size() * size_t(sh.n_rows));
    kernels_of(sh).row_top_sums(sh.view(), values_of(m, s), ns, part.data());
    scatter_rows(part, sh.n_rows, off[s], off.back(), ns.size(), out);
  });
}

std::vector<uint8_t> dominant_genes(const ShardedMatrix& m, const double* row_total,
                                    double fraction) {
  const ShardedIndex& idx = m.index();
  std::vector<int64_t> off = idx.row_offsets();
  std::vector<std::vector<uint8_t>> part(idx.shards.size(), std::vector<uint8_t>(size_t(idx.n_cols)));
  for_each_shard(shard_devices(idx), [&](size_t s) {
    const ShardIndex& sh = *idx.shards[s];
    kernels_of(sh).flag_dominant_genes(sh.view(), values_of(m, s), row_total + off[s], fraction,
                                       part[s].data());
  });
  std::vector<uint8_t> flags(size_t(idx.n_cols), 0);
  for (const auto& p : part)
    for (size_t g = 0; g < flags.size(); ++g) flags[g] |= p[g];
  return flags;
}

std::vector<double> gram_matrix(const ShardedMatrix& m) {
  const ShardedIndex& idx = m.index();
  size_t n = size_t(idx.n_cols);
  std::vector<std::vector<double>> part(idx.shards.size());
  for_each_shard(shard_devices(idx), [&](size_t s) {
    const ShardIndex& sh = *idx.shards[s];
    part[s].assign(n * n, 0.0);
    kernels_of(sh).gram(sh.view(), values_of(m, s), part[s].data());
  });
  std::vector<double> g(n * n, 0.0);
  for (const auto& p : part)
    for (size_t i = 0; i < g.size(); ++i) g[i] += p[i];
  return g;
}

std::vector<double> multiply_matrix(const ShardedMatrix& m, const std::vector<double>& v, int k) {
  const ShardedIndex& idx = m.index();
  CS_CHECK(int64_t(v.size()) == idx.n_cols * k, "internal: V has the wrong size");
  std::vector<int64_t> off = idx.row_offsets();
  std::vector<double> out(size_t(off.back()) * size_t(k));
  for_each_shard(shard_devices(idx), [&](size_t s) {
    const ShardIndex& sh = *idx.shards[s];
    std::vector<double> part(size_t(sh.n_rows) * size_t(k));
    kernels_of(sh).multiply(sh.view(), values_of(m, s), v.data(), k, part.data());
    scatter_rows(part, sh.n_rows, off[s], off.back(), size_t(k), out.data());
  });
  return out;
}

}  // namespace cellshard
