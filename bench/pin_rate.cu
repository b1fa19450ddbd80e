// How fast host memory can be made page-locked, and how fast pageable memory
// moves to and from the GPU (issue 7: out-of-core steps write their new
// layers back to freshly pinned memory, and that pinning, not the link, was
// the filter's and normalize's cost). Each way of getting pinned memory is
// timed on the same size, plus pageable copies as the alternative:
//   - cudaMallocHost;
//   - malloc'd memory touched, then cudaHostRegister, with 4 KiB pages and with
//     transparent huge pages (madvise), on one thread and on several;
//   - cudaMemcpy device <-> pageable host, and <-> pinned host.
//   nvcc -O2 -std=c++17 -o /tmp/pin_rate bench/pin_rate.cu && /tmp/pin_rate [GiB] [threads]
#include <cuda_runtime.h>
#include <sys/mman.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// bytes of 2 MiB-aligned anonymous memory, touched (optionally on huge pages).
void* touched(size_t bytes, bool huge) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);
  std::memset(p, 1, bytes);
  return p;
}

void report(const char* what, size_t bytes, double seconds) {
  std::printf("%-58s %7.3f s  %7.2f GB/s\n", what, seconds, double(bytes) / seconds / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t gib = argc > 1 ? size_t(std::atoi(argv[1])) : 4;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  const size_t bytes = gib << 30;
  check(cudaSetDevice(0), "cudaSetDevice");
  check(cudaFree(nullptr), "context");
  std::printf("%zu GiB, %d threads\n", gib, threads);

  double t = now();
  void* pinned = nullptr;
  check(cudaMallocHost(&pinned, bytes), "cudaMallocHost");
  report("cudaMallocHost", bytes, now() - t);
  t = now();
  std::memset(pinned, 1, bytes);
  report("  first touch of it (memset)", bytes, now() - t);

  for (bool huge : {false, true}) {
    t = now();
    void* p = touched(bytes, huge);
    report(huge ? "mmap + memset, huge pages" : "mmap + memset, 4 KiB pages", bytes, now() - t);
    t = now();
    check(cudaHostRegister(p, bytes, cudaHostRegisterDefault), "cudaHostRegister");
    report(huge ? "  cudaHostRegister, huge pages, 1 thread" : "  cudaHostRegister, 4 KiB pages, 1 thread",
           bytes, now() - t);
    check(cudaHostUnregister(p), "cudaHostUnregister");
    t = now();
    std::vector<std::thread> pool;
    const size_t piece = bytes / size_t(threads);
    for (int i = 0; i < threads; ++i)
      pool.emplace_back([&, i] {
        check(cudaHostRegister(static_cast<char*>(p) + size_t(i) * piece, piece,
                               cudaHostRegisterDefault),
              "cudaHostRegister (threads)");
      });
    for (auto& th : pool) th.join();
    report(huge ? "  cudaHostRegister, huge pages, threads" : "  cudaHostRegister, 4 KiB pages, threads",
           bytes, now() - t);
    for (int i = 0; i < threads; ++i)
      check(cudaHostUnregister(static_cast<char*>(p) + size_t(i) * piece), "unregister");
    munmap(p, bytes);
  }

  void* dev = nullptr;
  check(cudaMalloc(&dev, bytes), "cudaMalloc");
  check(cudaMemset(dev, 1, bytes), "cudaMemset");
  void* pageable = touched(bytes, true);
  for (int rep = 0; rep < 2; ++rep) {
    check(cudaDeviceSynchronize(), "sync");
    t = now();
    check(cudaMemcpy(pageable, dev, bytes, cudaMemcpyDeviceToHost), "D2H pageable");
    report("device -> pageable host (huge pages)", bytes, now() - t);
    t = now();
    check(cudaMemcpy(dev, pageable, bytes, cudaMemcpyHostToDevice), "H2D pageable");
    report("pageable host (huge pages) -> device", bytes, now() - t);
    t = now();
    check(cudaMemcpy(pinned, dev, bytes, cudaMemcpyDeviceToHost), "D2H pinned");
    report("device -> pinned host", bytes, now() - t);
    t = now();
    check(cudaMemcpy(dev, pinned, bytes, cudaMemcpyHostToDevice), "H2D pinned");
    report("pinned host -> device", bytes, now() - t);
  }
  t = now();
  check(cudaFreeHost(pinned), "cudaFreeHost");
  report("cudaFreeHost", bytes, now() - t);
  return 0;
}
