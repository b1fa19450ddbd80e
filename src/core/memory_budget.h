// How much of each device's memory cellshard's shards may hold (issue 7,
// out-of-core): the user's budget (options(cellshard.device.memory)) or, by
// default, what the device has minus some headroom. Shards over the budget
// stay off the device (in pinned host memory, or in their source file) and
// pass through it in shard-sized pieces, each pass (core/shard_stream.h).
// The budget is decided when data is placed (read, drawn, derived); nothing
// here synchronises or copies.
#pragma once
#include <cstddef>
#include <cstdint>

namespace cellshard {

// Sets the budget per device in bytes (0: the default). Applies to data
// placed from now on.
void set_memory_budget(double bytes);
// The user's budget, or 0 when none was set.
double user_memory_budget();

// The budget of `device` (a GPU, or kHost for the CPU backend).
size_t memory_budget(int device);

// Bytes that cellshard's buffers hold on `device` now (kPinned: the
// off-device tier). Buffers call note_held as they come and go.
size_t held_bytes(int location);
void note_held(int location, int64_t delta);

// What the budget of `device` leaves beside the buffers held there now (0
// when they fill it): the room a step's working buffers may take.
size_t budget_room(int device);

// What the shards placed on `device` by readers and simulateAtlas may hold:
// the budget less room for the staging buffers of streaming passes.
size_t resident_limit(int device);

// What shards derived by the verbs (a filtered copy, a new layer) may bring
// the device to: the resident limit under a user's budget; without one the
// whole default budget, so that data that fits stays as it always was.
size_t derived_limit(int device);

// The size a shard that streams should have (index and one value layer):
// small enough that a pass's double buffers take a fraction of the budget.
size_t stream_shard_bytes(int device);

// Whether a derived shard of `bytes`, about to be made from shards resident
// on `device`, should stay there: while derived_limit allows, and always
// when it is too large to stream (then it may run out of memory as before).
bool keep_on_device(int device, size_t bytes);

// Whether a shard of `bytes` just made on `device` (already counted among its
// held bytes) should move off it: the device is past the limit (`placing`:
// read or drawn data, resident_limit; else derived_limit) and the shard is
// small enough to stream.
bool over_budget_now(int device, size_t bytes, bool placing);

// The number of shards to cut `total_bytes` (index and values of all cells)
// into over `n_devices` devices: `requested`, or more when the data passes
// the resident limit, so that the shards that stream are about
// stream_shard_bytes each (a multiple of n_devices).
size_t shards_for_budget(size_t requested, double total_bytes, int device, size_t n_devices);

// Whether host memory can take `bytes` more of pinned shards (the machine's
// available memory less headroom); when not, readers leave shards in their file.
bool pinned_has_room(size_t bytes);

}  // namespace cellshard
