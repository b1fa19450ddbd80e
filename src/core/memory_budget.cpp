#include "memory_budget.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>

#include "backend.h"

namespace cellshard {

namespace {

std::atomic<double> user_budget{0.0};

// One counter per location, never removed (references stay valid).
std::atomic<int64_t>& counter(int location) {
  static std::mutex mutex;
  static auto* all = new std::map<int, std::atomic<int64_t>>();
  std::lock_guard<std::mutex> lock(mutex);
  return (*all)[location];
}

// What a device has, asked once per device (the driver call is not free).
size_t device_total(int device) {
  static std::mutex mutex;
  static auto* totals = new std::map<int, size_t>();
  std::lock_guard<std::mutex> lock(mutex);
  auto found = totals->find(device);
  if (found != totals->end()) return found->second;
  size_t free_bytes = 0, total = 0;
  memory_info(device, &free_bytes, &total);
  return (*totals)[device] = total;
}

}  // namespace

void set_memory_budget(double bytes) { user_budget = bytes > 0 ? bytes : 0.0; }
double user_memory_budget() { return user_budget.load(); }

size_t memory_budget(int device) {
  double user = user_budget.load();
  if (user > 0) return size_t(user);
  // Default: the device less a tenth (at least 1 GiB) for libraries (cuBLAS
  // workspaces, NCCL) and the passes' temporaries.
  size_t total = device_total(device);
  size_t headroom = std::max<size_t>(total / 10, size_t(1) << 30);
  return total > headroom ? total - headroom : total / 2;
}

size_t held_bytes(int location) { return size_t(std::max<int64_t>(0, counter(location).load())); }

void note_held(int location, int64_t delta) { counter(location).fetch_add(delta); }

size_t budget_room(int device) {
  const size_t budget = memory_budget(device), held = held_bytes(device);
  return budget > held ? budget - held : 0;
}

size_t resident_limit(int device) {
  // A quarter for the staging buffers: two slots of a shard's index and up to
  // two value layers, each stream_shard_bytes / 2 (core/shard_stream.cpp).
  size_t budget = memory_budget(device);
  return budget - budget / 4;
}

size_t stream_shard_bytes(int device) {
  return std::max<size_t>(memory_budget(device) / 16, size_t(4) << 10);
}

size_t derived_limit(int device) {
  return user_memory_budget() > 0 ? resident_limit(device) : memory_budget(device);
}

bool keep_on_device(int device, size_t bytes) {
  if (held_bytes(device) + bytes <= derived_limit(device)) return true;
  return bytes > 2 * stream_shard_bytes(device);
}

bool over_budget_now(int device, size_t bytes, bool placing) {
  size_t limit = placing ? resident_limit(device) : derived_limit(device);
  return held_bytes(device) > limit && bytes <= 2 * stream_shard_bytes(device);
}

size_t shards_for_budget(size_t requested, double total_bytes, int device, size_t n_devices) {
  n_devices = std::max<size_t>(1, n_devices);
  double per_device = total_bytes / double(n_devices);
  if (per_device <= double(resident_limit(device))) return requested;
  double per_shard = double(stream_shard_bytes(device));
  size_t per_device_shards = size_t(std::ceil(per_device / per_shard));
  return std::max(requested, per_device_shards * n_devices);
}

bool pinned_has_room(size_t bytes) {
  size_t free_bytes = 0, total = 0;
  memory_info(kHost, &free_bytes, &total);
  // Leave a tenth of the machine (at least 2 GiB) to R and the system.
  size_t headroom = std::max<size_t>(total / 10, size_t(2) << 30);
  return free_bytes > headroom && bytes <= free_bytes - headroom;
}

}  // namespace cellshard
