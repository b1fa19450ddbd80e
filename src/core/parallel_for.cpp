#include "parallel_for.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#ifdef __linux__
#include <sched.h>
#endif

namespace cellshard {

unsigned host_threads() {
  if (const char* env = std::getenv("CELLSHARD_THREADS")) {
    long n = std::strtol(env, nullptr, 10);
    if (n > 0) return unsigned(std::min(n, 1024L));
  }
#ifdef __linux__
  // hardware_concurrency() counts every CPU of the machine; the affinity mask
  // is what taskset, cgroups' cpusets and batch schedulers actually grant.
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return unsigned(n);
  }
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(size_t n, const std::function<void(size_t)>& fn, unsigned max_threads) {
  if (max_threads == 0) max_threads = host_threads();
  const size_t n_threads = std::min<size_t>(max_threads, n);
  if (n_threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next(0);
  std::atomic<bool> failed(false);
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (size_t i; !failed && (i = next++) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n_threads; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

void parallel_ranges(size_t n, size_t pieces, const std::function<void(size_t, size_t)>& fn) {
  pieces = std::max<size_t>(1, std::min(pieces, n));
  parallel_for(pieces, [&](size_t p) { fn(n * p / pieces, n * (p + 1) / pieces); });
}

void parallel_items(size_t n, const std::function<void(size_t, size_t)>& fn) {
  parallel_ranges(n, std::min<size_t>(size_t(host_threads()) * 4, n / 65536), fn);
}

}  // namespace cellshard
