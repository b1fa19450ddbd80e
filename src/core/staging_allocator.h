// Host memory for data on its way to a GPU (the readers' chunks): page-locked
// where GPUs are visible, so that uploads run at the link's speed. From
// pageable memory the driver copies through small buffers of its own: 8.7
// GB/s against 51-55 GB/s from pinned memory on the H100 machine
// (bench/pin_rate.cu). Plain host memory without GPUs, or when pinning is
// refused. Blocks come from the pinned cache (cuda/device_memory.h), so a
// reader's few chunks are pinned once per session, not once per read.
#pragma once
#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace cellshard {

// `bytes` of staging memory (throws OutOfMemory when even plain memory is short).
void* staging_allocate(size_t bytes);
// Gives back memory from staging_allocate.
void staging_release(void* ptr) noexcept;

// A std::allocator over staging memory. resize() leaves new elements
// uninitialised (default-initialised): readers overwrite them, and zeroing
// 100+ MB chunks would cost as much as reading them.
template <class T>
struct StagingAllocator {
  using value_type = T;
  StagingAllocator() = default;
  template <class U>
  StagingAllocator(const StagingAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    if (n > size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(staging_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, size_t) noexcept { staging_release(p); }

  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <class U>
  bool operator==(const StagingAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const StagingAllocator<U>&) const noexcept { return false; }
};

template <class T>
using StagingVector = std::vector<T, StagingAllocator<T>>;

}  // namespace cellshard
