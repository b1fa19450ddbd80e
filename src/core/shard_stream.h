// The one place that hands per-shard kernels device views of shards, whatever
// their residency (DESIGN.md: "a shard lives on a device, in pinned host
// memory, or only in its source file"). Resident arrays are viewed where they
// are: nothing is copied and nothing waits, so the in-memory path is the same
// as a plain loop over shards. Arrays kept off the device are staged through
// two buffers per device: while the kernel works on one shard, a helper
// thread fetches the next one (reads it from its file if need be, then
// copies it on the device's transfer stream), so the link and the kernels
// work at the same time.
#pragma once
#include <functional>
#include <vector>

#include "sharded_matrix.h"

namespace cellshard {

// Device views of one shard: its index and the values of each layer asked for.
struct ShardViews {
  CsrView index;
  std::vector<const float*> values;
  bool staged = false;  // something of it was copied in for this pass
};

using StagedFn = std::function<void(size_t item, const ShardViews& views)>;

// Runs fn(item, views) for each item, where items[item] is a shard of `index`
// (in any order; shards may repeat) and `layers` are value layers over
// `index`. One thread per device, the items of a device in order; rethrows
// the first error; the user's interrupt stops it between items. Without
// `with_indices` (a pass that reads only row pointers and values, such as
// per-cell sums), gene indices kept off the device are not staged and the
// views' indices are null.
void for_each_staged(const ShardedIndex& index, const std::vector<const ShardedMatrix*>& layers,
                     const std::vector<size_t>& items, const StagedFn& fn,
                     bool with_indices = true);

// The same over every shard, in order (item = shard).
void for_each_staged(const ShardedIndex& index, const std::vector<const ShardedMatrix*>& layers,
                     const StagedFn& fn, bool with_indices = true);

// Whether the shard's index and the given layers' values are all on its device.
bool shard_resident(const ShardedIndex& index, const std::vector<const ShardedMatrix*>& layers,
                    size_t shard);

// A copy of `b` in pinned host memory (b itself when it is already there).
BufferPtr to_pinned(const BufferPtr& b);

// Moves a shard's index arrays and values off its device into pinned host
// memory when the device's budget has no room for them (core/memory_budget.h).
// For shards just read or drawn, one at a time.
void settle_shard(ShardIndex& shard, std::vector<BufferPtr*> values);

// The shard's row pointers, gene indices and values of one layer in host
// memory (from wherever they are; values may be null to skip them).
void shard_to_host(const ShardIndex& shard, const BufferPtr& layer_values, int64_t* indptr,
                   int32_t* indices, float* values);

// The same for shard s of layer m, whose values may be computed from its
// recipe (core/sharded_matrix.h): then mapped on the host.
void layer_shard_to_host(const ShardedMatrix& m, size_t s, int64_t* indptr, int32_t* indices,
                         float* values);

// Bytes that streaming has moved since the process started: staged into the
// devices (from pinned memory or files) and written back to pinned memory.
struct StreamCounters {
  double to_device = 0, to_host = 0;
};
StreamCounters stream_counters();
// Adds to the bytes written back (core/write_back.h).
void count_written_back(double bytes);

// Bytes that a matrix keeps on its devices, in pinned host memory and only in
// its source file (index and values; computed values are kept nowhere).
struct Residency {
  double device = 0, pinned = 0, file = 0;
};
Residency residency_of(const ShardedMatrix& m);

}  // namespace cellshard
