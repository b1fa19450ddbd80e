// Fresh pinned memory as anonymous memory on transparent huge pages, faulted
// in by host threads, then registered with CUDA. Measured on the H100 machine
// (bench/pin_rate.cu, 8 GiB): cudaMallocHost 2.5 GB/s; cudaHostRegister of
// memory already faulted in 48 GB/s on 2 MiB pages against 21 GB/s on 4 KiB
// pages; faulting in on one thread 6 GB/s with huge pages, 1.6 GB/s without.
// So the pages are asked for as huge pages and faulted in on all threads.
#include "host_pinning.h"

#include <cuda_runtime.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

#include "../core/backend.h"
#include "../core/parallel_for.h"

namespace cellshard {

namespace {

constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kSmallPage = 4096;

size_t mapped_length(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

}  // namespace

void* pin_new_host_memory(size_t bytes) {
  if (bytes == 0) return nullptr;
  const size_t length = mapped_length(bytes);
  // Faulting in more than the machine has would wake the kernel's OOM killer
  // (a killed R session) where cudaMallocHost would fail: ask first.
  size_t available = 0, total = 0;
  memory_info(kHost, &available, &total);
  if (available > 0 && length > available) return nullptr;
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  madvise(p, length, MADV_HUGEPAGE);  // a hint: 4 KiB pages still work
  char* base = static_cast<char*>(p);
  // Pieces of whole huge pages, a few per thread, so that a shard's few
  // hundred MB keep every thread busy too (fixed 64 MB pieces left a 250 MB
  // buffer to 4 threads).
  const size_t pages = length / kHugePage;
  const size_t n_pieces = std::max<size_t>(1, std::min<size_t>(pages, 4 * size_t(host_threads())));
  const size_t piece_bytes = (pages + n_pieces - 1) / n_pieces * kHugePage;
  parallel_for((length + piece_bytes - 1) / piece_bytes, [&](size_t piece) {
    const size_t begin = piece * piece_bytes, end = std::min(length, begin + piece_bytes);
    for (size_t at = begin; at < end; at += kSmallPage) reinterpret_cast<volatile char*>(base)[at] = 0;
  });
  if (cudaHostRegister(p, length, cudaHostRegisterPortable) != cudaSuccess) {
    cudaGetLastError();
    munmap(p, length);
    return nullptr;
  }
  return p;
}

void unpin_host_memory(void* ptr, size_t bytes) noexcept {
  if (!ptr) return;
  if (cudaHostUnregister(ptr) != cudaSuccess) cudaGetLastError();
  munmap(ptr, mapped_length(bytes));
}

}  // namespace cellshard
