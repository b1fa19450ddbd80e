// A small work-sharing loop over host threads: the host-side work that is
// not per device (the synthetic atlas's model, the CPU backend's draws and
// every kernel of the CPU backend).
#pragma once
#include <cstddef>
#include <functional>

namespace cellshard {

// How many host threads the CPU work uses: CELLSHARD_THREADS when it is set
// to a positive number, else the CPUs this process may run on (so that
// `taskset -c 0,1` limits it to 2), read at each call.
unsigned host_threads();

// Runs fn(i) for i in [0, n) on up to `max_threads` threads (0: host_threads()),
// items handed out in order as threads free up. Waits for all, then rethrows
// the first exception. fn must be safe to run concurrently.
void parallel_for(size_t n, const std::function<void(size_t)>& fn, unsigned max_threads = 0);

// Cuts [0, n) into `pieces` contiguous ranges of near-equal length and runs
// fn(begin, end) for each on host threads (ranges are independent of the
// number of threads).
void parallel_ranges(size_t n, size_t pieces, const std::function<void(size_t, size_t)>& fn);

}  // namespace cellshard
