#include "cpu_backend.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>

#include "../core/errors.h"
#include "../core/parallel_for.h"
#include "csr_ranges.h"
#include "gather_rows.h"

namespace cellshard {

void cpu_memory_info(size_t* free_bytes, size_t* total_bytes) {
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  *total_bytes = size_t(sysconf(_SC_PHYS_PAGES)) * page;
  *free_bytes = size_t(sysconf(_SC_AVPHYS_PAGES)) * page;
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream in(line);
    std::string key;
    size_t kib = 0;
    in >> key >> kib;
    if (key == "MemAvailable:") *free_bytes = kib * 1024;
  }
}

namespace {

class CpuBackend : public Backend {
 public:
  std::string name() const override { return "cpu"; }

  void* allocate(int, size_t bytes) override {
    void* p = std::malloc(bytes);
    if (!p) {
      size_t free_bytes, total;
      cpu_memory_info(&free_bytes, &total);
      throw OutOfMemory(kHost, bytes, free_bytes, total);
    }
    return p;
  }
  void release(int, void* p) noexcept override { std::free(p); }

  void copy_to_host(void* dst, const void* src, int, size_t bytes) override {
    std::memcpy(dst, src, bytes);
  }
  void copy_from_host(void* dst, int, const void* src, size_t bytes) override {
    // Readers "upload" chunks of 100+ MB into freshly allocated shards: the
    // page faults of first touch cost more than the copy, and spread over
    // host threads like it.
    const size_t piece = size_t(16) << 20;
    if (bytes < 2 * piece) {
      std::memcpy(dst, src, bytes);
      return;
    }
    parallel_ranges(bytes, bytes / piece, [&](size_t a, size_t b) {
      std::memcpy(static_cast<char*>(dst) + a, static_cast<const char*>(src) + a, b - a);
    });
  }
  void copy_between(void* dst, int, const void* src, int, size_t bytes) override {
    std::memcpy(dst, src, bytes);
  }
  void fill_zero(void* dst, int, size_t bytes) override { std::memset(dst, 0, bytes); }

  void row_stats(const CsrView& a, const float* values, AxisStats out) override {
    for_row_ranges(a, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        double sum = 0;
        int64_t pos = 0;
        for (int64_t k = a.indptr[r]; k < a.indptr[r + 1]; ++k) {
          sum += double(values[k]);
          pos += values[k] > 0.0f;
        }
        out.sums[r] = sum;
        out.n_positive[r] = pos;
      }
    });
  }

  GatherOutput gather(const CsrView& a, const std::vector<const float*>& values,
                      const std::vector<int64_t>& rows, const GeneMap& genes,
                      const CsrView* prebuilt) override {
    return gather_rows_on_host(a, values, rows, genes, prebuilt);
  }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace cellshard
