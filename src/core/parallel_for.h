// A small work-sharing loop over host threads for the host-side work that
// is not per device (the synthetic atlas's model and the CPU backend's draws).
#pragma once
#include <cstddef>
#include <functional>

namespace cellshard {

// Runs fn(i) for i in [0, n) on up to `max_threads` threads (0: one per
// hardware thread), items handed out in order as threads free up. Waits for
// all, then rethrows the first exception. fn must be safe to run concurrently.
void parallel_for(size_t n, const std::function<void(size_t)>& fn, unsigned max_threads = 0);

}  // namespace cellshard
