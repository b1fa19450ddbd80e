#include "sharded_matrix.h"

#include <algorithm>

#include "errors.h"

namespace cellshard {

CsrView ShardIndex::view() const {
  CsrView v;
  v.device = device;
  v.n_rows = n_rows;
  v.n_cols = n_cols;
  v.nnz = nnz;
  v.indptr = indptr ? indptr->as<int64_t>() : nullptr;
  v.indices = indices ? indices->as<int32_t>() : nullptr;
  return v;
}

int64_t ShardedIndex::n_rows() const {
  int64_t n = 0;
  for (const auto& s : shards) n += s->n_rows;
  return n;
}

int64_t ShardedIndex::nnz() const {
  int64_t n = 0;
  for (const auto& s : shards) n += s->nnz;
  return n;
}

std::vector<int64_t> ShardedIndex::row_offsets() const {
  std::vector<int64_t> off(shards.size() + 1, 0);
  for (size_t s = 0; s < shards.size(); ++s) off[s + 1] = off[s] + shards[s]->n_rows;
  return off;
}

ValueMap ValueRecipe::for_rows(int64_t first_row) const {
  ValueMap m = map;
  m.row_factor = row_factor.empty() ? nullptr : row_factor.data() + first_row;
  m.col_factor = col_factor.empty() ? nullptr : col_factor.data();
  m.col_offset = col_offset.empty() ? nullptr : col_offset.data();
  return m;
}

ShardedMatrix::ShardedMatrix(std::shared_ptr<const ShardedIndex> index,
                             std::vector<BufferPtr> values,
                             std::shared_ptr<const ValueRecipe> recipe,
                             std::shared_ptr<const ShardedMatrix> gathered_from)
    : index_(std::move(index)), values_(std::move(values)), recipe_(std::move(recipe)),
      gathered_from_(std::move(gathered_from)) {
  CS_CHECK(index_, "internal: matrix without an index");
  CS_CHECK(values_.size() == index_->shards.size(), "internal: one value buffer per shard");
  CS_CHECK(!(recipe_ && gathered_from_), "internal: a layer both mapped and gathered");
  if (recipe_) {
    CS_CHECK(recipe_->base && &recipe_->base->index() == index_.get(),
             "internal: a recipe over another index");
    for (size_t s = 0; s < values_.size(); ++s)
      CS_CHECK(values_[s] || !recipe_->base->computed(s), "internal: a recipe over computed values");
  }
  for (size_t s = 0; s < values_.size(); ++s) {
    const ShardIndex& sh = *index_->shards[s];
    if (gathered(s))
      CS_CHECK(gathered_from_ && &gathered_from_->index() == sh.gathered->parent.get(),
               "internal: gathered values without their parent layer");
    if (!values_[s] && (sh.source || recipe_ || sh.gathered)) continue;  // not stored
    size_t have = values_[s] ? values_[s]->bytes() : 0;
    CS_CHECK(have == size_t(sh.nnz) * sizeof(float), "internal: values do not match the index");
    CS_CHECK(!values_[s] || values_[s]->device() == sh.device || values_[s]->device() == kPinned,
             "internal: values and index on different devices");
  }
}

size_t ShardedMatrix::value_bytes() const {
  size_t b = 0;
  for (const auto& v : values_) b += v ? v->bytes() : 0;
  return b;
}

size_t ShardedMatrix::index_bytes() const {
  size_t b = 0;
  for (const auto& s : index_->shards)
    b += (s->indptr ? s->indptr->bytes() : 0) + (s->indices ? s->indices->bytes() : 0);
  return b;
}

static void check_devices(const std::vector<int>& devices, size_t n_shards) {
  CS_CHECK(!devices.empty(), "no devices to place shards on");
  CS_CHECK(n_shards >= 1, "the number of shards must be at least 1");
}

Placement even_placement(int64_t n_rows, const std::vector<int>& devices, size_t n_shards) {
  check_devices(devices, n_shards);
  if (n_rows > 0) n_shards = std::min<size_t>(n_shards, size_t(n_rows));
  Placement p;
  for (size_t s = 0; s < n_shards; ++s) {
    int64_t lo = n_rows * int64_t(s) / int64_t(n_shards);
    int64_t hi = n_rows * int64_t(s + 1) / int64_t(n_shards);
    p.devices.push_back(devices[s % devices.size()]);
    p.rows.push_back(hi - lo);
  }
  return p;
}

Placement balanced_placement(const std::vector<int64_t>& prefix, const std::vector<int>& devices,
                             size_t n_shards) {
  check_devices(devices, n_shards);
  int64_t n_rows = int64_t(prefix.size()) - 1;
  CS_CHECK(n_rows >= 0, "internal: empty row prefix");
  if (n_rows == 0 || prefix.back() == 0) return even_placement(n_rows, devices, n_shards);
  n_shards = std::min<size_t>(n_shards, size_t(n_rows));
  Placement p;
  int64_t start = 0;
  for (size_t s = 0; s < n_shards; ++s) {
    int64_t end;
    if (s + 1 == n_shards) {
      end = n_rows;
    } else {
      // First row boundary at or past the s+1-th share of the non-zeros,
      // leaving at least one row for each remaining shard.
      double target = double(prefix.back()) * double(s + 1) / double(n_shards);
      end = int64_t(std::lower_bound(prefix.begin(), prefix.end(), int64_t(target)) - prefix.begin());
      end = std::max(end, start + 1);
      end = std::min<int64_t>(end, n_rows - int64_t(n_shards - s - 1));
    }
    p.devices.push_back(devices[s % devices.size()]);
    p.rows.push_back(end - start);
    start = end;
  }
  return p;
}

}  // namespace cellshard
