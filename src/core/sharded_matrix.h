// The device data model: a cells x genes matrix cut into contiguous shards of
// cells, each shard a CSR block on one device (or on the host). Value layers
// (counts, normalised values, ...) that share one sparsity pattern share the
// index arrays and own only their values.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "buffer.h"
#include "pipeline_kernels.h"
#include "shard_source.h"

namespace cellshard {

struct ShardedIndex;

// How a shard's gene indices (and the values of the layers over it) are
// gathered from a shard of another index whenever a pass stages it, rather
// than stored: a subset of shards kept off their device then writes nothing
// back and takes no host memory but its row pointers, counted once (out of
// core: the filter would otherwise write its whole result to fresh pinned
// memory, slower than the link). The parent shard may itself be computed.
struct IndexRecipe {
  std::shared_ptr<const ShardedIndex> parent;
  size_t parent_shard = 0;
  std::vector<int64_t> rows;            // local rows of the parent shard
  std::shared_ptr<const GeneMap> genes;  // of the parent's genes
};

// The sparsity pattern of one shard: 64-bit row pointers, 32-bit gene indices.
// `device` is where its kernels run. Its arrays live there (resident), or in
// pinned host memory (kPinned), or, with `source` set and `indices` null, only
// in the source file, or, with `gathered` set and `indices` null, nowhere (the
// row pointers aside: a computed index, gathered from its parent when
// staged); passes stage what is not resident (core/shard_stream.h).
struct ShardIndex {
  int device = kHost;
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  int64_t nnz = 0;
  BufferPtr indptr;   // int64, n_rows + 1 (on the device or kPinned; kept even with a source)
  BufferPtr indices;  // int32, nnz (null when read from `source` each time)
  std::shared_ptr<const ShardSource> source;
  std::shared_ptr<const IndexRecipe> gathered;  // set: a computed index

  CsrView view() const;
};

// The sparsity pattern of the whole matrix: shards in cell order.
struct ShardedIndex {
  int64_t n_cols = 0;
  std::vector<std::shared_ptr<ShardIndex>> shards;

  int64_t n_rows() const;
  int64_t nnz() const;
  // First cell of each shard, plus n_rows() at the end.
  std::vector<int64_t> row_offsets() const;
};

class ShardedMatrix;

// Per-cell sums of a layer's values and counts of values > 0
// (Backend::row_stats), kept with the layer when the pass that made it could
// count them at no cost of their own: a subset of cells kept off the devices
// stages its source anyway, and normalisation, which follows a filter, needs
// them (out of core, core/operations.cpp).
struct CellTotals {
  std::vector<double> sums;
  std::vector<int64_t> n_positive;
};

// How a layer's values of some shards are computed from another layer when a
// pass stages them, rather than stored: a map (normalising, log1p, scaling)
// of a shard kept off its device then costs no pass, no copy over the link
// and no host memory; the next pass that reads it stages the base's values
// and maps them on the device (out of core, core/shard_stream.h).
struct ValueRecipe {
  std::shared_ptr<const ShardedMatrix> base;  // same index; stored values there
  // The op, clip and rounding; its array pointers stay null: the arrays are
  // the vectors below (whole matrix; empty: none), so a copy of a recipe is
  // whole.
  ValueMap map;
  std::vector<double> row_factor, col_factor, col_offset;

  bool per_gene() const { return !col_factor.empty() || !col_offset.empty(); }
  // The map for shard rows starting at cell `first_row`.
  ValueMap for_rows(int64_t first_row) const;
};

// One value layer over a shared index: what an R handle points to. A layer's
// values of a shard live on the shard's device or in pinned host memory; null
// values of a shard are computed by the layer's recipe when it has one, else
// gathered from `gathered_from` (a layer over the parent index) when the
// shard's index is computed, else they are the source's (the file's matrix).
class ShardedMatrix : public std::enable_shared_from_this<ShardedMatrix> {
 public:
  ShardedMatrix(std::shared_ptr<const ShardedIndex> index, std::vector<BufferPtr> values,
                std::shared_ptr<const ValueRecipe> recipe = nullptr,
                std::shared_ptr<const ShardedMatrix> gathered_from = nullptr);

  int64_t n_rows() const { return index_->n_rows(); }
  int64_t n_cols() const { return index_->n_cols; }
  int64_t nnz() const { return index_->nnz(); }
  size_t n_shards() const { return index_->shards.size(); }
  const ShardedIndex& index() const { return *index_; }
  std::shared_ptr<const ShardedIndex> shared_index() const { return index_; }
  const std::vector<BufferPtr>& values() const { return values_; }
  // Whether shard s's values are computed from the recipe when staged.
  bool computed(size_t s) const { return recipe_ && !values_[s]; }
  const std::shared_ptr<const ValueRecipe>& recipe() const { return recipe_; }
  // Whether shard s's values are gathered from gathered_from() when staged
  // (its index is computed, core IndexRecipe).
  bool gathered(size_t s) const {
    return !values_[s] && !computed(s) && index_->shards[s]->gathered;
  }
  const std::shared_ptr<const ShardedMatrix>& gathered_from() const { return gathered_from_; }
  // The layer's per-cell totals when known (null: a pass counts them).
  const std::shared_ptr<const CellTotals>& cell_totals() const { return cell_totals_; }
  void set_cell_totals(std::shared_ptr<const CellTotals> t) { cell_totals_ = std::move(t); }
  // Device bytes held by this layer's values, and by the shared index.
  size_t value_bytes() const;
  size_t index_bytes() const;

 private:
  std::shared_ptr<const ShardedIndex> index_;
  std::vector<BufferPtr> values_;  // float32, one per shard
  std::shared_ptr<const ValueRecipe> recipe_;
  std::shared_ptr<const ShardedMatrix> gathered_from_;  // over the computed shards' parent index
  std::shared_ptr<const CellTotals> cell_totals_;
};

using MatrixPtr = std::shared_ptr<ShardedMatrix>;

// Where each shard goes: devices[s] for shard s, and its number of cells.
struct Placement {
  std::vector<int> devices;
  std::vector<int64_t> rows;
};

// Splits n_rows cells into n_shards contiguous shards of near-equal size,
// placed round-robin on `devices`.
Placement even_placement(int64_t n_rows, const std::vector<int>& devices, size_t n_shards);

// Splits so that each shard holds about the same number of non-zeros
// (row_nnz_prefix has n_rows + 1 entries), keeping at least one cell per shard.
Placement balanced_placement(const std::vector<int64_t>& row_nnz_prefix,
                             const std::vector<int>& devices, size_t n_shards);

}  // namespace cellshard
