#include "operations.h"

#include <algorithm>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "errors.h"
#include "pipeline_passes.h"
#include "memory_budget.h"
#include "parallel_for.h"
#include "write_back.h"
#include "progress.h"
#include "shard_stream.h"

namespace cellshard {

void for_each_shard(const std::vector<int>& devices, const std::function<void(size_t)>& fn) {
  std::map<int, std::vector<size_t>> by_device;
  for (size_t s = 0; s < devices.size(); ++s) by_device[devices[s]].push_back(s);
  // Between shards, a user's interrupt stops the pass (core/progress.h).
  if (by_device.size() <= 1) {
    for (size_t s = 0; s < devices.size(); ++s) {
      progress_check_stop();
      fn(s);
    }
    return;
  }
  std::vector<std::exception_ptr> errors(by_device.size());
  std::vector<std::thread> threads;
  size_t k = 0;
  for (auto& entry : by_device) {
    const std::vector<size_t>* shards = &entry.second;
    std::exception_ptr* err = &errors[k++];
    threads.emplace_back([shards, err, &fn] {
      try {
        for (size_t s : *shards) {
          progress_check_stop();
          fn(s);
        }
      } catch (...) {
        *err = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

std::vector<int> shard_devices(const ShardedIndex& index) {
  std::vector<int> d;
  for (const auto& s : index.shards) d.push_back(s->device);
  return d;
}

void row_stats(const ShardedMatrix& m, double* sums, int64_t* n_positive) {
  if (const auto& known = m.cell_totals()) {  // counted by the pass that made m
    std::copy(known->sums.begin(), known->sums.end(), sums);
    std::copy(known->n_positive.begin(), known->n_positive.end(), n_positive);
    return;
  }
  const ShardedIndex& idx = m.index();
  std::vector<int64_t> off = idx.row_offsets();
  for_each_staged(idx, {&m}, [&](size_t s, const ShardViews& v) {
    const ShardIndex& sh = *idx.shards[s];
    backend_for(sh.device).row_stats(v.index, v.values[0], {sums + off[s], n_positive + off[s]});
  }, /*with_indices=*/false);  // per-cell sums read row pointers and values only
}

void col_stats(const ShardedMatrix& m, double* sums, int64_t* n_positive) {
  // The moments kernels add in a fixed order on every backend (no atomics), so
  // the sums are the same bits from run to run.
  std::vector<double> squares(size_t(m.index().n_cols));
  column_moments(m, MomentOptions(), sums, squares.data(), n_positive);
}

GeneMap make_gene_map(int64_t n_source, const std::vector<int64_t>& keep) {
  GeneMap map;
  map.n_out = int64_t(keep.size());
  CS_CHECK(map.n_out <= INT32_MAX, "too many genes selected");
  map.map_ptr.assign(size_t(n_source) + 1, 0);
  bool identity = int64_t(keep.size()) == n_source;
  for (size_t j = 0; j < keep.size(); ++j) {
    int64_t g = keep[j];
    if (g < 0 || g >= n_source)
      throw Error("gene index " + std::to_string(g + 1) + " is out of range (the matrix has " +
                  std::to_string(n_source) + " genes)");
    map.map_ptr[size_t(g) + 1]++;
    if (j > 0 && keep[j] <= keep[j - 1]) map.monotone = false;
    if (g != int64_t(j)) identity = false;
  }
  for (size_t g = 0; g < size_t(n_source); ++g) map.map_ptr[g + 1] += map.map_ptr[g];
  map.out_cols.resize(keep.size());
  std::vector<int64_t> fill(map.map_ptr.begin(), map.map_ptr.end() - 1);
  for (size_t j = 0; j < keep.size(); ++j) map.out_cols[size_t(fill[size_t(keep[j])]++)] = int32_t(j);
  map.identity = identity;
  return map;
}

GeneMap identity_gene_map(int64_t n_genes) {
  std::vector<int64_t> all(static_cast<size_t>(n_genes));
  for (int64_t g = 0; g < n_genes; ++g) all[size_t(g)] = g;
  return make_gene_map(n_genes, all);
}

namespace {

// Remembers the index that the last subset or rebalance built, so that the
// other layers of the same object, transformed the same way, share it; and
// the layer that subset made, so that a layer computed from that layer's
// input (ValueRecipe) is computed from it in turn, without a pass.
struct DerivedIndexCache {
  std::mutex mutex;
  const ShardedIndex* source = nullptr;
  std::weak_ptr<const ShardedIndex> source_alive;
  std::vector<int64_t> key;
  std::weak_ptr<const ShardedIndex> result;
  std::weak_ptr<const ShardedMatrix> layer_source, layer_result;

  // The subset of layer m under key k, while it is alive.
  std::shared_ptr<const ShardedMatrix> find_layer(const ShardedMatrix& m,
                                                  const std::vector<int64_t>& k) {
    std::lock_guard<std::mutex> lock(mutex);
    auto src = layer_source.lock();
    if (!src || src.get() != &m || key != k) return nullptr;
    return layer_result.lock();
  }
  void remember_layer(const ShardedMatrix& m, const std::vector<int64_t>& k,
                      const std::shared_ptr<const ShardedMatrix>& r) {
    std::lock_guard<std::mutex> lock(mutex);
    if (key != k) return;  // remember() has not kept this key
    layer_source = m.shared_from_this();
    layer_result = r;
  }

  std::shared_ptr<const ShardedIndex> find(const ShardedMatrix& m, const std::vector<int64_t>& k) {
    std::lock_guard<std::mutex> lock(mutex);
    auto src = source_alive.lock();
    if (!src || src.get() != &m.index() || key != k) return nullptr;
    return result.lock();
  }
  void remember(const ShardedMatrix& m, std::vector<int64_t> k,
                const std::shared_ptr<const ShardedIndex>& r) {
    std::lock_guard<std::mutex> lock(mutex);
    source = &m.index();
    source_alive = m.shared_index();
    key = std::move(k);
    result = r;
  }
};

DerivedIndexCache& derived_cache() {
  static DerivedIndexCache cache;
  return cache;
}

std::vector<int64_t> subset_key(const std::vector<int64_t>& rows, const GeneMap& genes) {
  std::vector<int64_t> k;
  k.reserve(rows.size() + genes.map_ptr.size() + genes.out_cols.size() + 4);
  k.push_back(1);  // operation tag: subset
  k.push_back(int64_t(rows.size()));
  k.insert(k.end(), rows.begin(), rows.end());
  k.push_back(int64_t(genes.map_ptr.size()));
  k.insert(k.end(), genes.map_ptr.begin(), genes.map_ptr.end());
  k.insert(k.end(), genes.out_cols.begin(), genes.out_cols.end());
  return k;
}

struct Segment {
  size_t source_shard;
  std::vector<int64_t> local_rows;
};

std::vector<int64_t> genes_key(const GeneMap& genes) {
  std::vector<int64_t> k;
  k.reserve(genes.map_ptr.size() + genes.out_cols.size() + 2);
  k.push_back(2);  // operation tag: every cell, some genes
  k.push_back(int64_t(genes.map_ptr.size()));
  k.insert(k.end(), genes.map_ptr.begin(), genes.map_ptr.end());
  k.insert(k.end(), genes.out_cols.begin(), genes.out_cols.end());
  return k;
}

// A layer whose every shard is computed from its recipe's base transforms as
// the same map of the base's result: when the base was just transformed under
// `key` (the other assays of the same object, subset or rebalanced first),
// the result is computed from that, with no pass and no copy. `rows` are the
// result's cells as cells of m (null: the same cells, as a rebalance keeps
// them); a subset of genes needs a map of cells only (no per-gene terms).
MatrixPtr computed_from_base_result(const ShardedMatrix& m, const std::vector<int64_t>& key,
                                    const std::vector<int64_t>* rows, bool genes_change) {
  const auto& recipe = m.recipe();
  if (!recipe || (genes_change && recipe->per_gene())) return nullptr;
  for (size_t s = 0; s < m.n_shards(); ++s)
    if (!m.computed(s)) return nullptr;
  std::shared_ptr<const ShardedMatrix> base_result = derived_cache().find_layer(*recipe->base, key);
  if (!base_result || base_result->n_rows() != (rows ? int64_t(rows->size()) : m.n_rows()))
    return nullptr;
  for (size_t k = 0; k < base_result->n_shards(); ++k)
    if (base_result->computed(k)) return nullptr;
  auto r = std::make_shared<ValueRecipe>(*recipe);
  r->base = base_result;
  if (rows && !recipe->row_factor.empty()) {
    r->row_factor.clear();
    for (int64_t row : *rows) r->row_factor.push_back(recipe->row_factor[size_t(row)]);
  }
  CS_CHECK(r->row_factor.empty() || int64_t(r->row_factor.size()) == base_result->n_rows(),
           "internal: a recipe's cell factors do not match its base");
  return std::make_shared<ShardedMatrix>(base_result->shared_index(),
                                         std::vector<BufferPtr>(base_result->n_shards()),
                                         std::move(r));
}

MatrixPtr computed_from_base_subset(const ShardedMatrix& m, const std::vector<Segment>& segments,
                                    const std::vector<int64_t>& key) {
  if (!m.recipe()) return nullptr;
  std::vector<int64_t> off = m.index().row_offsets(), rows;
  for (const Segment& seg : segments)
    for (int64_t row : seg.local_rows) rows.push_back(off[seg.source_shard] + row);
  return computed_from_base_result(m, key, &rows, true);
}

// A computed shard's row pointers, kept in pinned host memory (they are
// small: one int64 per cell), counted among the bytes written back.
BufferPtr pinned_row_pointers(const Buffer& on_device) {
  BufferPtr b = make_buffer(kPinned, on_device.bytes());
  on_device.download(b->data(), b->bytes());
  count_written_back(double(b->bytes()));
  return b;
}

// Row pointers of `seg`'s rows of shard sh under `genes`, counted on the
// host from the shard's row pointers alone: for a map that keeps every gene
// once (a subset of cells), else empty.
BufferPtr counted_on_host(const ShardIndex& sh, const Segment& seg, const GeneMap& genes,
                          int64_t* nnz) {
  if (!genes.identity) return nullptr;
  std::vector<int64_t> src(size_t(sh.n_rows) + 1), ptr(seg.local_rows.size() + 1, 0);
  sh.indptr->download(src.data(), src.size() * sizeof(int64_t));
  for (size_t i = 0; i < seg.local_rows.size(); ++i) {
    const size_t r = size_t(seg.local_rows[i]);
    ptr[i + 1] = ptr[i] + src[r + 1] - src[r];
  }
  *nnz = ptr.back();
  BufferPtr b = make_buffer(kPinned, ptr.size() * sizeof(int64_t));
  b->upload(ptr.data(), b->bytes());
  return b;
}

// Which of the segments `now` (of shards resident on their devices) would
// leave no room under the budget (derived_limit) once gathered: decided
// before gathering, so that no result is made only to be dropped beside its
// source (the peak a budget promises). A result is bounded by its rows'
// entries in the source, times the most columns one gene maps to, with one
// value layer; the source's row pointers come to the host only where its
// whole shard would not fit. Results too large to stream stay, as before.
std::vector<char> without_room(const ShardedIndex& idx, const std::vector<Segment>& segments,
                               const std::vector<size_t>& now, const GeneMap& genes) {
  int64_t copies = 1;
  if (!genes.identity)
    for (size_t g = 0; g + 1 < genes.map_ptr.size(); ++g)
      copies = std::max(copies, genes.map_ptr[g + 1] - genes.map_ptr[g]);
  const double entry_bytes = double(copies) * (sizeof(int32_t) + sizeof(float));
  std::map<int, double> planned;
  auto fits = [&](int device, double bytes) {
    return double(held_bytes(device)) + planned[device] + bytes <= double(derived_limit(device));
  };
  std::vector<char> no_room(now.size(), 0);
  for (size_t j = 0; j < now.size(); ++j) {
    const Segment& seg = segments[now[j]];
    const ShardIndex& sh = *idx.shards[seg.source_shard];
    const double rows_bytes = double(seg.local_rows.size() + 1) * sizeof(int64_t);
    double bound = rows_bytes + double(sh.nnz) * entry_bytes;
    if (!fits(sh.device, bound)) {
      std::vector<int64_t> ptr(size_t(sh.n_rows) + 1);
      sh.indptr->download(ptr.data(), ptr.size() * sizeof(int64_t));
      int64_t entries = 0;
      for (int64_t r : seg.local_rows) entries += ptr[size_t(r) + 1] - ptr[size_t(r)];
      bound = rows_bytes + double(entries) * entry_bytes;
    }
    if (!fits(sh.device, bound) && bound <= 2.0 * double(stream_shard_bytes(sh.device)))
      no_room[j] = 1;
    else
      planned[sh.device] += bound;
  }
  return no_room;
}

// The gather shared by subset() and subset_genes(): each segment's rows of its
// source shard, the genes of `genes`, into a new matrix (or into the index
// the same subset of another layer built, found under `key`; the new index is
// remembered under it when `remember`). Segments of source shards that
// stream are not gathered, nor kept where their result has no room on the
// device: their shards are computed (IndexRecipe), with row pointers counted
// now and everything else gathered whenever a pass stages them, so nothing
// is written back (fresh pinned memory is slower than the link).
MatrixPtr gather_segments(const ShardedMatrix& m, const std::vector<Segment>& segments,
                          const GeneMap& genes, std::vector<int64_t> key, bool remember,
                          bool cell_totals) {
  const ShardedIndex& idx = m.index();
  CS_CHECK(int64_t(genes.map_ptr.size()) == idx.n_cols + 1, "internal: gene map of the wrong size");
  if (MatrixPtr computed = computed_from_base_subset(m, segments, key)) return computed;
  std::shared_ptr<const ShardedIndex> prebuilt = derived_cache().find(m, key);
  if (prebuilt && prebuilt->shards.size() != segments.size()) prebuilt = nullptr;
  // An index kept off the devices cannot be gathered into: build a new one
  // (its computed shards are fine: this layer's are gathered when staged too).
  if (prebuilt)
    for (size_t k = 0; prebuilt && k < prebuilt->shards.size(); ++k)
      if (!prebuilt->shards[k]->gathered && !shard_resident(*prebuilt, {}, k)) prebuilt = nullptr;

  std::vector<GatherOutput> out(segments.size());
  std::vector<char> lazy(segments.size());  // written by each device's thread
  std::vector<size_t> now, later, now_sources, later_sources;
  for (size_t k = 0; k < segments.size(); ++k) {
    const size_t src = segments[k].source_shard;
    lazy[k] = prebuilt ? prebuilt->shards[k]->gathered != nullptr : !shard_resident(idx, {&m}, src);
    (lazy[k] ? later : now).push_back(k);
    (lazy[k] ? later_sources : now_sources).push_back(src);
  }
  if (!prebuilt) {  // results with no room are computed like those of streamed shards
    const std::vector<char> no_room = without_room(idx, segments, now, genes);
    std::vector<size_t> kept, kept_sources;
    for (size_t j = 0; j < now.size(); ++j) {
      if (no_room[j]) {
        lazy[now[j]] = 1;
        later.push_back(now[j]);
        later_sources.push_back(now_sources[j]);
      } else {
        kept.push_back(now[j]);
        kept_sources.push_back(now_sources[j]);
      }
    }
    now.swap(kept);
    now_sources.swap(kept_sources);
  }
  // A subset of cells whose shards stream counts its cells' totals in the
  // passes below, which stage the source anyway: the normalisation that
  // follows a filter then makes no pass of its own. (Not for a cells-only
  // subset of streamed shards, which makes no pass at all.)
  std::shared_ptr<CellTotals> totals;
  std::vector<int64_t> first_row(segments.size() + 1, 0);
  if (cell_totals && !prebuilt && !later.empty() && !genes.identity) {
    for (size_t k = 0; k < segments.size(); ++k)
      first_row[k + 1] = first_row[k] + int64_t(segments[k].local_rows.size());
    totals = std::make_shared<CellTotals>();
    totals->sums.resize(size_t(first_row.back()));
    totals->n_positive.resize(size_t(first_row.back()));
  }
  auto count_totals = [&](size_t k, const GatherOutput& g, int device) {
    if (!totals) return;
    CsrView view;
    view.device = device;
    view.n_rows = int64_t(segments[k].local_rows.size());
    view.n_cols = genes.n_out;
    view.nnz = g.nnz;
    view.indptr = g.indptr->as<int64_t>();
    view.indices = g.indices->as<int32_t>();
    backend_for(device).row_stats(view, g.values[0]->as<float>(),
                                  {totals->sums.data() + first_row[k],
                                   totals->n_positive.data() + first_row[k]});
  };

  WriteBack write_back;  // after `out`: gone before it
  for_each_staged(idx, {&m}, now_sources, [&](size_t j, const ShardViews& v) {
    const size_t k = now[j];
    const Segment& seg = segments[k];
    const ShardIndex& sh = *idx.shards[seg.source_shard];
    CsrView pre;
    if (prebuilt) pre = prebuilt->shards[k]->view();
    out[k] = backend_for(sh.device)
                 .gather(v.index, {v.values[0]}, seg.local_rows, genes, prebuilt ? &pre : nullptr);
    count_totals(k, out[k], sh.device);
    // What has no room on the device streams out.
    size_t bytes = (out[k].indptr ? out[k].indptr->bytes() : 0) +
                   (out[k].indices ? out[k].indices->bytes() : 0);
    for (auto& b : out[k].values) bytes += b ? b->bytes() : 0;
    const bool no_room = over_budget_now(sh.device, bytes, false);
    if (no_room && !v.staged && !prebuilt) {
      // Rather than written back, computed like a streamed segment: gathered
      // again from its resident source when staged (nothing crosses the link).
      lazy[k] = true;
      out[k].indptr = pinned_row_pointers(*out[k].indptr);
      out[k].indices = nullptr;
      out[k].values.clear();
    } else if (v.staged || no_room) {
      if (!prebuilt) {
        write_back.put(out[k].indptr, &out[k].indptr);
        write_back.put(out[k].indices, &out[k].indices);
      }
      for (auto& b : out[k].values) write_back.put(b, &b);
    }
  });
  write_back.finish();
  // The computed shards' row pointers: from the source's row pointers when
  // every gene stays, else one pass over the source's index (and its values
  // when the cells' totals are counted).
  std::vector<size_t> counted, counted_sources;
  for (size_t j = 0; !prebuilt && j < later.size(); ++j) {
    const size_t k = later[j];
    out[k].indptr = counted_on_host(*idx.shards[later_sources[j]], segments[k], genes, &out[k].nnz);
    if (!out[k].indptr) {
      counted.push_back(k);
      counted_sources.push_back(later_sources[j]);
    }
  }
  std::vector<const ShardedMatrix*> count_layers;
  if (totals) count_layers.push_back(&m);
  for_each_staged(idx, count_layers, counted_sources, [&](size_t j, const ShardViews& v) {
    const size_t k = counted[j];
    std::vector<const float*> values;
    if (totals) values.push_back(v.values[0]);
    GatherOutput g =
        backend_for(v.index.device).gather(v.index, values, segments[k].local_rows, genes, nullptr);
    count_totals(k, g, v.index.device);
    out[k].nnz = g.nnz;
    out[k].indptr = pinned_row_pointers(*g.indptr);
  });
  bool any_lazy = false;
  for (char l : lazy) any_lazy = any_lazy || l;

  std::shared_ptr<const ShardedIndex> index = prebuilt;
  if (!index) {
    std::shared_ptr<const GeneMap> shared_genes;
    if (any_lazy) shared_genes = std::make_shared<const GeneMap>(genes);
    auto built = std::make_shared<ShardedIndex>();
    built->n_cols = genes.n_out;
    for (size_t k = 0; k < segments.size(); ++k) {
      auto sh = std::make_shared<ShardIndex>();
      sh->device = idx.shards[segments[k].source_shard]->device;
      sh->n_rows = int64_t(segments[k].local_rows.size());
      sh->n_cols = genes.n_out;
      sh->nnz = out[k].nnz;
      sh->indptr = out[k].indptr;
      sh->indices = out[k].indices;
      if (lazy[k]) {
        auto r = std::make_shared<IndexRecipe>();
        r->parent = m.shared_index();
        r->parent_shard = segments[k].source_shard;
        r->rows = segments[k].local_rows;
        r->genes = shared_genes;
        sh->gathered = r;
      }
      built->shards.push_back(sh);
    }
    index = built;
  }
  std::vector<BufferPtr> values;
  for (auto& o : out) values.push_back(o.values.empty() ? nullptr : o.values[0]);
  auto result = std::make_shared<ShardedMatrix>(
      index, std::move(values), nullptr,
      any_lazy ? std::shared_ptr<const ShardedMatrix>(m.shared_from_this()) : nullptr);
  result->set_cell_totals(totals);

  if (!prebuilt && remember) derived_cache().remember(m, key, index);
  if (remember) derived_cache().remember_layer(m, key, result);
  return result;
}

}  // namespace

MatrixPtr subset(const ShardedMatrix& m, const std::vector<int64_t>& rows, const GeneMap& genes,
                 bool cell_totals) {
  const ShardedIndex& idx = m.index();
  std::vector<int64_t> off = idx.row_offsets();
  int64_t n_rows = off.back();

  // Cut the requested cells into runs that come from one source shard.
  std::vector<Segment> segments;
  size_t cur = 0;
  for (int64_t r : rows) {
    if (r < 0 || r >= n_rows)
      throw Error("cell index " + std::to_string(r + 1) + " is out of range (the matrix has " +
                  std::to_string(n_rows) + " cells)");
    if (!(r >= off[cur] && r < off[cur + 1]))
      cur = size_t(std::upper_bound(off.begin(), off.end(), r) - off.begin()) - 1;
    if (segments.empty() || segments.back().source_shard != cur) segments.push_back({cur, {}});
    segments.back().local_rows.push_back(r - off[cur]);
  }
  // Cells taken out of order can leave many small shards: even them out (the
  // result then has an index of its own, not remembered for other layers).
  const bool scattered = segments.size() > 2 * std::max<size_t>(1, idx.shards.size());
  MatrixPtr result =
      gather_segments(m, segments, genes, subset_key(rows, genes), !scattered, cell_totals);
  if (scattered) {
    std::vector<int> source_devices = shard_devices(idx);
    return rebalance(*result, even_placement(result->n_rows(), source_devices, idx.shards.size()));
  }
  return result;
}

MatrixPtr subset_genes(const ShardedMatrix& m, const GeneMap& genes) {
  const ShardedIndex& idx = m.index();
  // Every shard whole, in order (empty shards dropped, as subset() does); no
  // walk over every cell index and no key holding them.
  std::vector<Segment> segments;
  for (size_t k = 0; k < idx.shards.size(); ++k)
    if (idx.shards[k]->n_rows > 0) segments.push_back({k, {}});
  parallel_for(segments.size(), [&](size_t k) {
    std::vector<int64_t>& rows = segments[k].local_rows;
    rows.resize(size_t(idx.shards[segments[k].source_shard]->n_rows));
    for (size_t r = 0; r < rows.size(); ++r) rows[r] = int64_t(r);
  });
  return gather_segments(m, segments, genes, genes_key(genes), true, false);
}

MatrixPtr rebalance(const ShardedMatrix& m, const Placement& p) {
  const ShardedIndex& idx = m.index();
  int64_t total = 0;
  for (int64_t r : p.rows) total += r;
  CS_CHECK(total == idx.n_rows(), "internal: a placement must cover every cell");
  CS_CHECK(p.rows.size() == p.devices.size(), "internal: placement sizes differ");

  // Already laid out so: the result shares the index and the values (nothing
  // writes to a layer's values once made).
  bool same_layout = p.rows.size() == idx.shards.size();
  for (size_t t = 0; same_layout && t < p.rows.size(); ++t)
    same_layout = p.rows[t] == idx.shards[t]->n_rows && p.devices[t] == idx.shards[t]->device;
  if (same_layout) {
    auto same = std::make_shared<ShardedMatrix>(m.shared_index(), m.values(), m.recipe(),
                                                m.gathered_from());
    same->set_cell_totals(m.cell_totals());
    return same;
  }

  std::vector<int64_t> key{2, int64_t(p.rows.size())};
  key.insert(key.end(), p.rows.begin(), p.rows.end());
  key.insert(key.end(), p.devices.begin(), p.devices.end());
  if (MatrixPtr computed = computed_from_base_result(m, key, nullptr, false)) return computed;
  std::shared_ptr<const ShardedIndex> prebuilt = derived_cache().find(m, key);

  // Row pointers of the source shards, on the host (one int64 per cell).
  std::vector<std::vector<int64_t>> src_ptr(idx.shards.size());
  for (size_t s = 0; s < idx.shards.size(); ++s) {
    const ShardIndex& sh = *idx.shards[s];
    src_ptr[s].resize(size_t(sh.n_rows) + 1);
    sh.indptr->download(src_ptr[s].data(), src_ptr[s].size() * sizeof(int64_t));
  }
  std::vector<int64_t> src_off = idx.row_offsets();

  // Each new shard t is made of pieces of consecutive source shards, in
  // order: rows [lo, hi) of source shard s, written at entry `at` of t.
  // Pieces are listed by new shard (pieces[first_piece[t] ..
  // first_piece[t + 1])) and, for the pass below, by source shard.
  struct Piece { size_t s, t; int64_t lo, hi, at; };
  const size_t n_new = p.rows.size();
  std::vector<Piece> pieces;
  std::vector<size_t> first_piece(n_new + 1, 0);
  std::vector<std::vector<size_t>> pieces_of(idx.shards.size());
  std::vector<int64_t> new_nnz(n_new, 0);
  for (size_t t = 0, s = 0, first = 0; t < n_new; first += size_t(p.rows[t]), ++t) {
    const int64_t a = int64_t(first), b = a + p.rows[t];
    while (s < idx.shards.size() && src_off[s + 1] <= a) ++s;
    for (size_t u = s; u < idx.shards.size() && src_off[u] < b; ++u) {
      const int64_t lo = std::max(a, src_off[u]) - src_off[u], hi = std::min(b, src_off[u + 1]) - src_off[u];
      if (lo >= hi) continue;
      pieces_of[u].push_back(pieces.size());
      pieces.push_back({u, t, lo, hi, new_nnz[t]});
      new_nnz[t] += src_ptr[u][size_t(hi)] - src_ptr[u][size_t(lo)];
    }
    first_piece[t + 1] = pieces.size();
  }

  // The new shards, on their devices (or in pinned host memory where their
  // device's budget has no room), with their row pointers (built by each
  // device's thread).
  std::vector<std::shared_ptr<ShardIndex>> new_shards(n_new);
  std::vector<BufferPtr> new_values(n_new);
  for_each_shard(p.devices, [&](size_t t) {
    const int dev = p.devices[t];
    const int64_t n_rows = p.rows[t], nnz = new_nnz[t];
    const size_t value_bytes = size_t(nnz) * sizeof(float);
    const size_t shard_bytes = size_t(n_rows + 1) * sizeof(int64_t) + 2 * value_bytes;
    int value_home = dev;
    std::shared_ptr<ShardIndex> sh;
    if (prebuilt) {
      sh = std::const_pointer_cast<ShardIndex>(prebuilt->shards[t]);
      if (!shard_resident(*prebuilt, {}, t) || !keep_on_device(dev, value_bytes)) value_home = kPinned;
    } else {
      value_home = keep_on_device(dev, shard_bytes) ? dev : kPinned;
      sh = std::make_shared<ShardIndex>();
      sh->device = dev;
      sh->n_rows = n_rows;
      sh->n_cols = idx.n_cols;
      sh->nnz = nnz;
      sh->indptr = make_buffer(value_home, size_t(n_rows + 1) * sizeof(int64_t));
      sh->indices = make_buffer(value_home, value_bytes);
      std::vector<int64_t> ptr;
      ptr.reserve(size_t(n_rows + 1));
      ptr.push_back(0);
      for (size_t i = first_piece[t]; i < first_piece[t + 1]; ++i) {
        const Piece& pc = pieces[i];
        for (int64_t r = pc.lo; r < pc.hi; ++r)
          ptr.push_back(ptr.back() + src_ptr[pc.s][size_t(r + 1)] - src_ptr[pc.s][size_t(r)]);
      }
      sh->indptr->upload(ptr.data(), ptr.size() * sizeof(int64_t));
    }
    new_shards[t] = sh;
    new_values[t] = make_buffer(value_home, value_bytes);
  });

  // One pass over the source shards copies their pieces straight from their
  // views into the new shards: resident arrays are copied where they are,
  // and shards that stream or are computed cross the link once (with the
  // next one staged meanwhile), never through host memory.
  std::vector<size_t> items;
  for (size_t s = 0; s < idx.shards.size(); ++s)
    if (!pieces_of[s].empty() && idx.shards[s]->nnz > 0) items.push_back(s);
  for_each_staged(idx, {&m}, items, [&](size_t j, const ShardViews& v) {
    const size_t s = items[j];
    for (size_t i : pieces_of[s]) {
      const Piece& pc = pieces[i];
      const int64_t from = src_ptr[s][size_t(pc.lo)], len = src_ptr[s][size_t(pc.hi)] - from;
      if (len == 0) continue;
      const size_t bytes = size_t(len) * 4, at = size_t(pc.at) * 4;
      Buffer& vals = *new_values[pc.t];
      if (!prebuilt)
        copy_from_view(*new_shards[pc.t]->indices, at, v.index.indices + from, v.index.device, bytes);
      copy_from_view(vals, at, v.values[0] + from, v.index.device, bytes);
      if (is_host_memory(vals.device()) && !is_host_memory(v.index.device))
        count_written_back(double(bytes) * (prebuilt ? 1 : 2));
    }
  }, /*with_indices=*/!prebuilt);

  std::shared_ptr<const ShardedIndex> index = prebuilt;
  if (!index) {
    auto built = std::make_shared<ShardedIndex>();
    built->n_cols = idx.n_cols;
    built->shards = new_shards;
    index = built;
    derived_cache().remember(m, key, index);
  }
  auto result = std::make_shared<ShardedMatrix>(index, std::move(new_values));
  result->set_cell_totals(m.cell_totals());  // the same cells in the same order
  derived_cache().remember_layer(m, key, result);
  return result;
}

HostCsr to_host(const ShardedMatrix& m) {
  const ShardedIndex& idx = m.index();
  HostCsr out;
  out.n_rows = idx.n_rows();
  out.n_cols = idx.n_cols;
  out.indptr.assign(size_t(out.n_rows) + 1, 0);
  out.indices.resize(size_t(idx.nnz()));
  out.values.resize(size_t(idx.nnz()));
  std::vector<int64_t> off = idx.row_offsets();
  std::vector<int64_t> nnz_off(idx.shards.size() + 1, 0);
  for (size_t s = 0; s < idx.shards.size(); ++s) nnz_off[s + 1] = nnz_off[s] + idx.shards[s]->nnz;
  for_each_shard(shard_devices(idx), [&](size_t s) {
    const ShardIndex& sh = *idx.shards[s];
    int64_t* ptr = out.indptr.data() + off[s];
    // Row pointers land shifted by this shard's first non-zero; row 0's slot
    // is the previous shard's end, so download to a temporary.
    std::vector<int64_t> local(size_t(sh.n_rows) + 1);
    layer_shard_to_host(m, s, local.data(), out.indices.data() + nnz_off[s],
                  out.values.data() + nnz_off[s]);
    for (int64_t r = 1; r <= sh.n_rows; ++r) ptr[r] = local[size_t(r)] + nnz_off[s];
  });
  return out;
}

MatrixPtr from_host(const HostCsr& csr, const Placement& p) {
  int64_t total = 0;
  for (int64_t r : p.rows) total += r;
  CS_CHECK(total == csr.n_rows, "internal: a placement must cover every cell");
  auto index = std::make_shared<ShardedIndex>();
  index->n_cols = csr.n_cols;
  size_t n = p.rows.size();
  index->shards.resize(n);
  std::vector<BufferPtr> values(n);
  std::vector<int64_t> first(n + 1, 0);
  for (size_t s = 0; s < n; ++s) first[s + 1] = first[s] + p.rows[s];
  for_each_shard(p.devices, [&](size_t s) {
    int dev = p.devices[s];
    int64_t a = first[s], b = first[s + 1];
    int64_t base = csr.indptr[size_t(a)], nnz = csr.indptr[size_t(b)] - base;
    auto sh = std::make_shared<ShardIndex>();
    sh->device = dev;
    sh->n_rows = b - a;
    sh->n_cols = csr.n_cols;
    sh->nnz = nnz;
    std::vector<int64_t> ptr(size_t(b - a) + 1);
    for (int64_t r = a; r <= b; ++r) ptr[size_t(r - a)] = csr.indptr[size_t(r)] - base;
    sh->indptr = make_buffer(dev, ptr.size() * sizeof(int64_t));
    sh->indptr->upload(ptr.data(), ptr.size() * sizeof(int64_t));
    sh->indices = make_buffer(dev, size_t(nnz) * sizeof(int32_t));
    sh->indices->upload(csr.indices.data() + base, size_t(nnz) * sizeof(int32_t));
    values[s] = make_buffer(dev, size_t(nnz) * sizeof(float));
    values[s]->upload(csr.values.data() + base, size_t(nnz) * sizeof(float));
    settle_shard(*sh, {&values[s]});  // off the device when over its budget
    index->shards[s] = sh;
  });
  return std::make_shared<ShardedMatrix>(index, std::move(values));
}

MatrixPtr with_host_values(const ShardedMatrix& like, const std::vector<float>& host) {
  const ShardedIndex& idx = like.index();
  CS_CHECK(int64_t(host.size()) == idx.nnz(), "the values do not match the matrix's non-zeros");
  std::vector<BufferPtr> values(idx.shards.size());
  std::vector<int64_t> nnz_off(idx.shards.size() + 1, 0);
  for (size_t s = 0; s < idx.shards.size(); ++s) nnz_off[s + 1] = nnz_off[s] + idx.shards[s]->nnz;
  for_each_shard(shard_devices(idx), [&](size_t s) {
    const ShardIndex& sh = *idx.shards[s];
    // Beside its index: on the device, or in pinned memory when the index streams.
    int home = shard_resident(idx, {}, s) ? sh.device : kPinned;
    values[s] = make_buffer(home, size_t(sh.nnz) * sizeof(float));
    values[s]->upload(host.data() + nnz_off[s], size_t(sh.nnz) * sizeof(float));
  });
  return std::make_shared<ShardedMatrix>(like.shared_index(), std::move(values));
}

}  // namespace cellshard
