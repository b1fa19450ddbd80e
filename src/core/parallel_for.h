// A small work-sharing loop over host threads: the host-side work that is
// not per device (the synthetic atlas's model, the CPU backend's draws and
// every kernel of the CPU backend).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

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

// parallel_ranges for a cheap loop over n items (millions of cells): ranges of
// at least 65,536 items, up to four per host thread.
void parallel_items(size_t n, const std::function<void(size_t, size_t)>& fn);

// The first k in [0, n) where bad(k), or -1, checked on host threads in
// pieces of about 2^20 items (each piece stops at its first bad item).
template <class Bad>
int64_t first_index_where(size_t n, Bad bad) {
  const size_t pieces = n >> 20 > 0 ? n >> 20 : 1;
  std::vector<int64_t> first_bad(pieces, -1);
  parallel_for(pieces, [&](size_t p) {
    for (size_t k = n * p / pieces, end = n * (p + 1) / pieces; k < end; ++k)
      if (bad(k)) {
        first_bad[p] = int64_t(k);
        return;
      }
  });
  for (int64_t k : first_bad)
    if (k >= 0) return k;
  return -1;
}

}  // namespace cellshard
