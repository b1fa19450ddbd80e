#include "shard_stream.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "errors.h"
#include "memory_budget.h"
#include "pipeline_kernels.h"
#include "progress.h"

namespace cellshard {

namespace {

std::atomic<double> staged_bytes{0}, written_back_bytes{0};

void count(std::atomic<double>& c, double bytes) {
  double old = c.load();
  while (!c.compare_exchange_weak(old, old + bytes)) {
  }
}

bool array_resident(const BufferPtr& b, int device, size_t bytes) {
  return bytes == 0 || (b && b->device() == device);
}

size_t indptr_bytes(const ShardIndex& sh) { return size_t(sh.n_rows + 1) * sizeof(int64_t); }
size_t nnz_bytes(const ShardIndex& sh) { return size_t(sh.nnz) * sizeof(float); }

// Values that come from the shard's source rather than from a buffer.
bool from_source(const ShardIndex& sh, const BufferPtr& values) {
  return !values && sh.nnz > 0 && sh.source;
}

// The same for layer l of a pass: a layer's computed shard (its recipe's) is
// not the source's, though its base's may be.
bool layer_from_source(const ShardIndex& sh, const ShardedMatrix& layer, size_t s) {
  return !layer.computed(s) && from_source(sh, layer.values()[s]);
}

// The stored values a computed shard is made from (null: the source's).
const BufferPtr& base_values(const ShardedMatrix& layer, size_t s) {
  return layer.recipe()->base->values()[s];
}

// Source files are read by the staging threads of every device; the HDF5
// library is built without thread safety, so one read at a time.
std::mutex& source_mutex() {
  static std::mutex m;
  return m;
}

void read_source(const ShardIndex& sh, int32_t* indices, float* values) {
  CS_CHECK(sh.source, "internal: a shard without its data or a source");
  std::lock_guard<std::mutex> lock(source_mutex());
  sh.source->read(indices, values);
}

// What of one shard a pass must stage.
struct Need {
  bool indptr = false;
  bool indices = false;
  bool read = false;           // indices (and the source's values) come from the file
  std::vector<bool> values;    // per layer: staged from pinned memory or from the file
                               // (or computed from its recipe's base, into the slot)
  bool any() const {
    if (indptr || indices || read) return true;
    for (bool v : values) if (v) return true;
    return false;
  }
};

// Whether a computed shard's map reads the gene of each value.
bool map_needs_genes(const ShardedMatrix& layer, size_t s) {
  return layer.computed(s) && layer.recipe()->per_gene();
}

Need need_of(const ShardIndex& sh, const std::vector<const ShardedMatrix*>& layers, size_t s,
             bool with_indices = true) {
  Need n;
  if (sh.gathered) {  // a computed index: staged through its parent (run_gathered)
    n.indices = true;
    return n;
  }
  n.indptr = !array_resident(sh.indptr, sh.device, indptr_bytes(sh));
  n.read = !sh.indices && sh.nnz > 0;
  CS_CHECK(!n.read || sh.source, "internal: a shard without indices or a source");
  for (const ShardedMatrix* l : layers) with_indices = with_indices || map_needs_genes(*l, s);
  n.indices = n.read || (with_indices && !array_resident(sh.indices, sh.device, nnz_bytes(sh)));
  for (const ShardedMatrix* l : layers) {
    const BufferPtr& v = l->values()[s];
    bool src = from_source(sh, v);
    const bool computed = l->computed(s) && sh.nnz > 0;  // into a slot, even from resident values
    n.values.push_back(computed || src || !array_resident(v, sh.device, nnz_bytes(sh)));
  }
  return n;
}

// One of a device's two staging buffers.
struct Slot {
  BufferPtr indptr, indices, source_values;
  std::vector<BufferPtr> values;
  BufferPtr host_indices, host_values;  // pinned: a file's shard on its way to a GPU
};

class DeviceStream {
 public:
  DeviceStream(int device, const ShardedIndex& index,
               const std::vector<const ShardedMatrix*>& layers, bool with_indices)
      : device_(device), index_(index), layers_(layers), with_indices_(with_indices),
        first_row_(index.row_offsets()) {}

  void run(const std::vector<size_t>& shard_of_item, const std::vector<size_t>& my_items,
           const StagedFn& fn) {
    std::vector<size_t> staged;
    std::map<size_t, Need> needs;
    bool any_gathered = false, other_staged = false;
    for (size_t item : my_items) {
      size_t s = shard_of_item[item];
      if (!needs.count(s)) needs[s] = need_of(*index_.shards[s], layers_, s, with_indices_);
      if (needs[s].any()) staged.push_back(item);
      if (index_.shards[s]->gathered) any_gathered = true;
      else if (needs[s].any()) other_staged = true;
    }
    if (any_gathered && other_staged) {
      // Computed and stored shards that stream, mixed: one item at a time,
      // in order (no prefetch across the two kinds).
      for (size_t item : my_items) run(shard_of_item, {item}, fn);
      return;
    }
    if (any_gathered) {
      run_gathered(shard_of_item, my_items, fn);
      return;
    }
    if (staged.empty()) {
      // Everything resident: the plain loop, nothing copied, nothing awaited.
      for (size_t item : my_items) {
        progress_check_stop();
        fn(item, direct_views(shard_of_item[item]));
      }
      return;
    }
    Slot slots[2];
    allocate_slots(slots, shard_of_item, staged, needs);
    // The slots come from the device's stream-ordered pool: make sure they
    // exist before the transfer stream writes to them.
    backend_for(device_).synchronize(device_);
    std::future<void> next;
    auto launch = [&](size_t k) {
      size_t s = shard_of_item[staged[k]];
      Slot* slot = &slots[k % 2];
      const Need* need = &needs[s];
      next = std::async(std::launch::async, [this, s, slot, need] { fetch(s, *need, *slot); });
    };
    launch(0);
    size_t k = 0;
    for (size_t item : my_items) {
      progress_check_stop();
      size_t s = shard_of_item[item];
      const Need& need = needs[s];
      if (!need.any()) {
        fn(item, direct_views(s));
        continue;
      }
      next.get();
      Slot& current = slots[k % 2];
      // The other slot held the previous staged shard, whose kernels have
      // finished (every kernel call returns when done): fetch into it now.
      if (k + 1 < staged.size()) launch(k + 1);
      fn(item, staged_views(s, need, current));
      ++k;
    }
  }

 private:
  // The items of computed shards (IndexRecipe) and of resident ones, in
  // order: one pass over the parent index stages the computed shards'
  // parent shards (prefetching as any pass does), and each is gathered on
  // the device into fresh buffers, the layers' values with it, before fn
  // sees it. The parent's layers are the layers' gathered_from() (or their
  // recipe base's): a chain of computed indices stages through each level.
  void run_gathered(const std::vector<size_t>& shard_of_item, const std::vector<size_t>& my_items,
                    const StagedFn& fn) {
    std::shared_ptr<const ShardedIndex> parent;
    std::vector<size_t> gathered_items, parent_shards;
    for (size_t item : my_items) {
      const ShardIndex& sh = *index_.shards[shard_of_item[item]];
      if (!sh.gathered) continue;
      CS_CHECK(!parent || parent == sh.gathered->parent, "internal: computed shards of two parents");
      parent = sh.gathered->parent;
      CS_CHECK(parent->shards[sh.gathered->parent_shard]->device == device_,
               "internal: a computed shard away from its parent's device");
      gathered_items.push_back(item);
      parent_shards.push_back(sh.gathered->parent_shard);
    }
    // Each layer's source over the parent, and its place among the parent's layers.
    std::vector<const ShardedMatrix*> parent_layers;
    std::vector<int> from(layers_.size(), -1);
    for (size_t l = 0; l < layers_.size(); ++l) {
      const ShardedMatrix* g = gather_source(*layers_[l]);
      if (!g) continue;
      auto at = std::find(parent_layers.begin(), parent_layers.end(), g);
      from[l] = int(at - parent_layers.begin());
      if (at == parent_layers.end()) parent_layers.push_back(g);
    }
    size_t next_item = 0;  // the next of my_items to hand to fn
    auto direct_until = [&](size_t stop) {
      for (; next_item < my_items.size() && my_items[next_item] != stop; ++next_item) {
        progress_check_stop();
        fn(my_items[next_item], direct_views(shard_of_item[my_items[next_item]]));
      }
    };
    for_each_staged(*parent, parent_layers, parent_shards, [&](size_t k, const ShardViews& pv) {
      const size_t item = gathered_items[k];
      direct_until(item);
      fn(item, gathered_views(shard_of_item[item], pv, from));
      ++next_item;
    });
    direct_until(size_t(-1));
  }

  // The layer over a computed shard's parent whose gathered values give
  // layer l's values there (or its recipe base's): null when none is.
  static const ShardedMatrix* gather_source(const ShardedMatrix& layer) {
    if (layer.gathered_from()) return layer.gathered_from().get();
    if (layer.recipe() && layer.recipe()->base->gathered_from())
      return layer.recipe()->base->gathered_from().get();
    return nullptr;
  }

  // Views of computed shard s, gathered from its parent's views `pv` (the
  // parent layers' values at from[l]); the buffers live with the views.
  struct GatheredViews : ShardViews {
    GatherOutput out;
    std::vector<BufferPtr> keep;
  };
  ShardViews gathered_views(size_t s, const ShardViews& pv, const std::vector<int>& from) const {
    const ShardIndex& sh = *index_.shards[s];
    const IndexRecipe& r = *sh.gathered;
    gathered_ = std::make_shared<GatheredViews>();
    GatheredViews& g = *gathered_;
    g.out = backend_for(device_).gather(pv.index, pv.values, r.rows, *r.genes, nullptr);
    CS_CHECK(g.out.nnz == sh.nnz, "internal: a computed index does not match its parent");
    g.staged = true;
    g.index = sh.view();
    g.index.indptr = g.out.indptr->as<int64_t>();
    g.index.indices = g.out.indices->as<int32_t>();
    const size_t nb = nnz_bytes(sh);
    // Stored values over a computed index (a layer made from host values).
    auto on_device = [&](const BufferPtr& b) -> const float* {
      if (b->device() == device_) return b->as<float>();
      BufferPtr d = make_buffer(device_, nb);
      backend_for(device_).upload_beside(d->data(), device_, b->data(), nb);
      count(staged_bytes, double(nb));
      g.keep.push_back(d);
      return d->as<float>();
    };
    for (size_t l = 0; l < layers_.size(); ++l) {
      const ShardedMatrix& layer = *layers_[l];
      if (layer.gathered(s)) {
        g.values.push_back(g.out.values[size_t(from[l])]->as<float>());
      } else if (layer.computed(s)) {
        const ShardedMatrix& base = *layer.recipe()->base;
        const float* in = base.gathered(s) ? g.out.values[size_t(from[l])]->as<float>()
                                            : on_device(base.values()[s]);
        BufferPtr out = make_buffer(device_, nb);
        pipeline_kernels_for(device_).map_values(g.index, in, out->as<float>(),
                                                 layer.recipe()->for_rows(first_row_[s]));
        g.keep.push_back(out);
        g.values.push_back(out->as<float>());
      } else {
        g.values.push_back(on_device(layer.values()[s]));
      }
    }
    return g;
  }

  ShardViews direct_views(size_t s) const {
    const ShardIndex& sh = *index_.shards[s];
    ShardViews v;
    v.index = sh.view();
    for (const ShardedMatrix* l : layers_) {
      const BufferPtr& b = l->values()[s];
      v.values.push_back(b ? b->as<float>() : nullptr);
    }
    return v;
  }

  // Views of what fetch() staged; computed layers are computed here, on the
  // device's stream, from their base's values (resident, staged into the
  // layer's slot, or read from the file).
  ShardViews staged_views(size_t s, const Need& need, const Slot& slot) const {
    const ShardIndex& sh = *index_.shards[s];
    ShardViews v = direct_views(s);
    v.staged = true;
    if (need.indptr) v.index.indptr = slot.indptr->as<int64_t>();
    if (need.indices) v.index.indices = slot.indices->as<int32_t>();
    else if (!array_resident(sh.indices, sh.device, nnz_bytes(sh))) v.index.indices = nullptr;
    for (size_t l = 0; l < layers_.size(); ++l) {
      if (!need.values[l]) continue;
      const ShardedMatrix& layer = *layers_[l];
      if (layer.computed(s)) {
        const BufferPtr& base = base_values(layer, s);
        const float* in = !base ? slot.source_values->as<float>()
                          : base->device() == sh.device ? base->as<float>()
                                                        : slot.values[l]->as<float>();
        float* out = slot.values[l]->as<float>();
        pipeline_kernels_for(sh.device).map_values(v.index, in, out,
                                                   layer.recipe()->for_rows(first_row_[s]));
        v.values[l] = out;
        continue;
      }
      v.values[l] = from_source(sh, layer.values()[s]) ? slot.source_values->as<float>()
                                                        : slot.values[l]->as<float>();
    }
    return v;
  }

  void allocate_slots(Slot* slots, const std::vector<size_t>& shard_of_item,
                      const std::vector<size_t>& staged, std::map<size_t, Need>& needs) {
    size_t ptr = 0, nnz = 0, read_nnz = 0;
    std::vector<size_t> layer_nnz(layers_.size(), 0);
    size_t source_nnz = 0;
    for (size_t item : staged) {
      size_t s = shard_of_item[item];
      const ShardIndex& sh = *index_.shards[s];
      const Need& n = needs[s];
      if (n.indptr) ptr = std::max(ptr, indptr_bytes(sh));
      if (n.indices) nnz = std::max(nnz, nnz_bytes(sh));
      if (n.read) read_nnz = std::max(read_nnz, nnz_bytes(sh));
      for (size_t l = 0; l < layers_.size(); ++l) {
        if (!n.values[l]) continue;
        if (layer_from_source(sh, *layers_[l], s)) source_nnz = std::max(source_nnz, nnz_bytes(sh));
        else layer_nnz[l] = std::max(layer_nnz[l], nnz_bytes(sh));
      }
    }
    // Reading a file gives values too: room for them even when no layer asks.
    source_nnz = std::max(source_nnz, read_nnz);
    const bool gpu = !is_host_memory(device_);
    // One slot for one shard (a pass of one shard reads nothing ahead).
    for (size_t k = 0; k < std::min<size_t>(2, staged.size()); ++k) {
      Slot& slot = slots[k];
      if (ptr) slot.indptr = make_buffer(device_, ptr);
      if (nnz) slot.indices = make_buffer(device_, nnz);
      if (source_nnz) slot.source_values = make_buffer(device_, source_nnz);
      for (size_t l = 0; l < layers_.size(); ++l)
        slot.values.push_back(layer_nnz[l] ? make_buffer(device_, layer_nnz[l]) : nullptr);
      if (gpu && read_nnz) {
        slot.host_indices = make_buffer(kPinned, read_nnz);
        slot.host_values = make_buffer(kPinned, read_nnz);
      }
    }
  }

  // Brings what shard s needs into `slot`; runs on a helper thread.
  void fetch(size_t s, const Need& need, Slot& slot) const {
    const ShardIndex& sh = *index_.shards[s];
    Backend& be = backend_for(device_);
    const size_t nb = nnz_bytes(sh);
    double moved = (need.indptr ? indptr_bytes(sh) : 0) + (need.indices ? nb : 0);
    for (size_t l = 0; l < layers_.size(); ++l)
      if (need.values[l] && staged_from_pinned(s, l)) moved += double(nb);
    if (need.read) moved += double(nb);  // the file's values come with its indices
    count(staged_bytes, moved);
    if (need.indptr) be.upload_beside(slot.indptr->data(), device_, sh.indptr->data(), indptr_bytes(sh));
    if (need.read) {
      const bool gpu = !is_host_memory(device_);
      int32_t* hi = gpu ? slot.host_indices->as<int32_t>() : slot.indices->as<int32_t>();
      float* hv = gpu ? slot.host_values->as<float>() : slot.source_values->as<float>();
      read_source(sh, hi, hv);
      if (gpu) {
        be.upload_beside(slot.indices->data(), device_, hi, nb);
        be.upload_beside(slot.source_values->data(), device_, hv, nb);
      }
    } else if (need.indices) {
      be.upload_beside(slot.indices->data(), device_, sh.indices->data(), nb);
    }
    for (size_t l = 0; l < layers_.size(); ++l) {
      if (!need.values[l] || !staged_from_pinned(s, l)) continue;
      const ShardedMatrix& layer = *layers_[l];
      const BufferPtr& v = layer.computed(s) ? base_values(layer, s) : layer.values()[s];
      be.upload_beside(slot.values[l]->data(), device_, v->data(), nb);
    }
  }

  // Whether layer l's values of shard s (a computed shard: its base's) are
  // copied in from pinned host memory (rather than read from the file, or
  // used where they are on the device).
  bool staged_from_pinned(size_t s, size_t l) const {
    const ShardIndex& sh = *index_.shards[s];
    const ShardedMatrix& layer = *layers_[l];
    const BufferPtr& v = layer.computed(s) ? base_values(layer, s) : layer.values()[s];
    return v && v->device() != sh.device;
  }

  int device_;
  const ShardedIndex& index_;
  const std::vector<const ShardedMatrix*>& layers_;
  const bool with_indices_;  // else the gene indices are staged only where a map needs them
  std::vector<int64_t> first_row_;  // of each shard
  mutable std::shared_ptr<GatheredViews> gathered_;  // the computed shard fn sees now
};

}  // namespace

bool shard_resident(const ShardedIndex& index, const std::vector<const ShardedMatrix*>& layers,
                    size_t shard) {
  return !need_of(*index.shards[shard], layers, shard).any();
}

void for_each_staged(const ShardedIndex& index, const std::vector<const ShardedMatrix*>& layers,
                     const std::vector<size_t>& items, const StagedFn& fn, bool with_indices) {
  for (const ShardedMatrix* l : layers)
    CS_CHECK(&l->index() == &index, "internal: a layer over another index");
  std::map<int, std::vector<size_t>> by_device;
  for (size_t item = 0; item < items.size(); ++item)
    by_device[index.shards[items[item]]->device].push_back(item);
  if (by_device.size() <= 1) {
    if (!by_device.empty())
      DeviceStream(by_device.begin()->first, index, layers, with_indices).run(items, by_device.begin()->second, fn);
    return;
  }
  std::vector<std::exception_ptr> errors(by_device.size());
  std::vector<std::thread> threads;
  size_t k = 0;
  for (auto& entry : by_device) {
    int device = entry.first;
    const std::vector<size_t>* mine = &entry.second;
    std::exception_ptr* err = &errors[k++];
    threads.emplace_back([&, device, mine, err] {
      try {
        DeviceStream(device, index, layers, with_indices).run(items, *mine, fn);
      } catch (...) {
        *err = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void for_each_staged(const ShardedIndex& index, const std::vector<const ShardedMatrix*>& layers,
                     const StagedFn& fn, bool with_indices) {
  std::vector<size_t> items(index.shards.size());
  for (size_t s = 0; s < items.size(); ++s) items[s] = s;
  for_each_staged(index, layers, items, fn, with_indices);
}

BufferPtr to_pinned(const BufferPtr& b) {
  if (!b || b->device() == kPinned) return b;
  BufferPtr out = make_buffer(kPinned, b->bytes());
  copy_buffer(*out, 0, *b, 0, b->bytes());
  count(written_back_bytes, double(b->bytes()));
  return out;
}

void count_written_back(double bytes) { count(written_back_bytes, bytes); }

StreamCounters stream_counters() { return {staged_bytes.load(), written_back_bytes.load()}; }

void settle_shard(ShardIndex& sh, std::vector<BufferPtr*> values) {
  size_t bytes = sh.indptr ? sh.indptr->bytes() : 0;
  if (sh.indices) bytes += sh.indices->bytes();
  for (BufferPtr* v : values)
    if (*v) bytes += (*v)->bytes();
  // The shard is already counted among the device's held bytes.
  if (!over_budget_now(sh.device, bytes, true)) return;
  sh.indptr = to_pinned(sh.indptr);
  sh.indices = to_pinned(sh.indices);
  for (BufferPtr* v : values) *v = to_pinned(*v);
}

namespace {

// Shard s of `index` as a pass stages it (gathered, for a computed index),
// downloaded: its gene indices and the values of `layer` (when not null).
void staged_to_host(const ShardedIndex& index, const ShardedMatrix* layer, size_t s,
                    int32_t* indices, float* values) {
  std::vector<const ShardedMatrix*> layers;
  if (layer) layers.push_back(layer);
  for_each_staged(index, layers, {s}, [&](size_t, const ShardViews& v) {
    Backend& be = backend_for(v.index.device);
    const size_t nb = size_t(v.index.nnz) * sizeof(float);
    if (indices && nb) be.copy_to_host(indices, v.index.indices, v.index.device, nb);
    if (values && layer && nb) be.copy_to_host(values, v.values[0], v.index.device, nb);
  });
}

}  // namespace

void shard_to_host(const ShardIndex& sh, const BufferPtr& layer_values, int64_t* indptr,
                   int32_t* indices, float* values) {
  if (indptr) sh.indptr->download(indptr, indptr_bytes(sh));
  if (sh.gathered && indices && sh.nnz > 0) {
    // A computed index: gathered from its parent through a pass of one shard.
    ShardedIndex alone;
    alone.n_cols = sh.n_cols;
    alone.shards.push_back(std::shared_ptr<ShardIndex>(std::shared_ptr<ShardIndex>(),
                                                       const_cast<ShardIndex*>(&sh)));
    staged_to_host(alone, nullptr, 0, indices, nullptr);
  }
  if (sh.gathered) {
    CS_CHECK(!values || layer_values || sh.nnz == 0,
             "internal: gathered values read without their layer (layer_shard_to_host)");
    if (values && sh.nnz > 0) layer_values->download(values, nnz_bytes(sh));
    return;
  }
  if (sh.nnz == 0) return;
  bool read = !sh.indices || from_source(sh, layer_values);
  if (read && (indices || values)) {
    std::vector<int32_t> i(size_t(sh.nnz));
    std::vector<float> v(size_t(sh.nnz));
    read_source(sh, i.data(), v.data());
    if (indices && !sh.indices) std::copy(i.begin(), i.end(), indices);
    if (values && from_source(sh, layer_values)) std::copy(v.begin(), v.end(), values);
  }
  if (indices && sh.indices) sh.indices->download(indices, nnz_bytes(sh));
  if (values && layer_values) layer_values->download(values, nnz_bytes(sh));
}

void layer_shard_to_host(const ShardedMatrix& m, size_t s, int64_t* indptr, int32_t* indices,
                         float* values) {
  const ShardIndex& sh = *m.index().shards[s];
  if (sh.gathered) {
    // A computed index: the layer's shard as a pass stages it.
    if (indptr) sh.indptr->download(indptr, indptr_bytes(sh));
    if (sh.nnz > 0 && (indices || values)) staged_to_host(m.index(), &m, s, indices, values);
    return;
  }
  if (!m.computed(s) || !values) {
    shard_to_host(sh, m.computed(s) ? nullptr : m.values()[s], indptr, indices,
                  m.computed(s) ? nullptr : values);
    return;
  }
  // A computed shard: its base's values, mapped on the host as the device would.
  const size_t n = size_t(sh.nnz);
  std::vector<int64_t> ptr(size_t(sh.n_rows) + 1);
  std::vector<int32_t> idx(n);
  std::vector<float> base(n);
  shard_to_host(sh, base_values(m, s), ptr.data(), idx.data(), base.data());
  CsrView view;
  view.n_rows = sh.n_rows;
  view.n_cols = sh.n_cols;
  view.nnz = sh.nnz;
  view.indptr = ptr.data();
  view.indices = idx.data();
  pipeline_kernels_for(kHost).map_values(view, base.data(), values,
                                         m.recipe()->for_rows(m.index().row_offsets()[s]));
  if (indptr) std::copy(ptr.begin(), ptr.end(), indptr);
  if (indices) std::copy(idx.begin(), idx.end(), indices);
}

Residency residency_of(const ShardedMatrix& m) {
  Residency r;
  const ShardedIndex& idx = m.index();
  auto add = [&](const BufferPtr& b, int device, double bytes) {
    if (!b) r.file += bytes;
    else if (b->device() == device) r.device += bytes;
    else r.pinned += bytes;
  };
  for (size_t s = 0; s < idx.shards.size(); ++s) {
    const ShardIndex& sh = *idx.shards[s];
    add(sh.indptr, sh.device, double(indptr_bytes(sh)));
    if (sh.gathered) {  // a computed index: its stored values only (kept nowhere else)
      if (m.values()[s]) add(m.values()[s], sh.device, double(nnz_bytes(sh)));
      continue;
    }
    add(sh.indices, sh.device, double(nnz_bytes(sh)));
    if (!m.computed(s)) add(m.values()[s], sh.device, double(nnz_bytes(sh)));
  }
  return r;
}

}  // namespace cellshard
