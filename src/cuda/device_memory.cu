#include "device_memory.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "../core/backend.h"
#include "../core/buffer.h"
#include "../core/errors.h"
#include "../core/parallel_for.h"
#include "cuda_check.h"
#include "device_context.h"
#include "host_pinning.h"

namespace cellshard {

namespace {

std::mutex& pools_mutex() {
  static std::mutex m;
  return m;
}

std::map<int, cudaMemPool_t>& pools() {
  static auto* all = new std::map<int, cudaMemPool_t>();  // never freed, as the streams
  return *all;
}

// The device's default stream-ordered memory pool, set up once: it keeps the
// memory of freed buffers for the next allocation instead of handing it back
// to the driver (cudaFree waits for the whole device and unmaps; cudaMalloc
// maps anew), and lets peer GPUs read and write pool memory.
cudaMemPool_t pool_of(int device) {
  std::lock_guard<std::mutex> lock(pools_mutex());
  auto found = pools().find(device);
  if (found != pools().end()) return found->second;
  cudaMemPool_t pool;
  CS_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
  uint64_t keep_everything = UINT64_MAX;
  CS_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_everything));
  int n = 0;
  CS_CUDA_CHECK(cudaGetDeviceCount(&n));
  for (int peer = 0; peer < n; ++peer) {
    int can = 0;
    if (peer == device || cudaDeviceCanAccessPeer(&can, peer, device) != cudaSuccess || !can) {
      cudaGetLastError();
      continue;
    }
    cudaMemAccessDesc access = {};
    access.location.type = cudaMemLocationTypeDevice;
    access.location.id = peer;
    access.flags = cudaMemAccessFlagsProtReadWrite;
    // Best effort, as enable_peer_copies: copies between GPUs work without it.
    if (cudaMemPoolSetAccess(pool, &access, 1) != cudaSuccess) cudaGetLastError();
  }
  return pools().emplace(device, pool).first->second;
}

// Freed pinned blocks kept for reuse, by size: page-locking is slow (the
// driver pins every page), and the layers a pipeline makes over one index
// have shards of the same sizes, so their blocks fit the next layer's.
struct PinnedCache {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;
  std::map<void*, size_t> sizes;  // every live or cached block
};

PinnedCache& pinned_cache() {
  static auto* cache = new PinnedCache();  // never freed, as the streams
  return *cache;
}

void release_cached_pinned(PinnedCache& c) {
  for (auto& [bytes, ptr] : c.free_blocks) {
    c.sizes.erase(ptr);
    unpin_host_memory(ptr, bytes);
  }
  c.free_blocks.clear();
}

}  // namespace

void* device_allocate(int device, size_t bytes) {
  if (bytes == 0) return nullptr;
  const DeviceContext& ctx = use_device(device);
  cudaMemPool_t pool = pool_of(device);
  void* ptr = nullptr;
  cudaError_t err = cudaMallocAsync(&ptr, bytes, ctx.stream);
  if (err == cudaErrorMemoryAllocation) {
    // The pool may hold the memory in fragments no allocation fits: give it
    // all back to the driver and try once more.
    cudaGetLastError();
    synchronize(ctx);
    CS_CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
    err = cudaMallocAsync(&ptr, bytes, ctx.stream);
  }
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so later calls succeed
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) cudaGetLastError();
    throw OutOfMemory(device, bytes, free_bytes, total_bytes);
  }
  if (err != cudaSuccess) throw_cuda_error(err, "cudaMallocAsync", __FILE__, __LINE__);
  return ptr;
}

void device_free(int device, void* ptr) noexcept {
  if (!ptr) return;
  try {
    // Stream-ordered: after the work queued on the device's stream, which is
    // the only stream that uses cellshard's buffers.
    const DeviceContext& ctx = use_device(device);
    if (cudaFreeAsync(ptr, ctx.stream) != cudaSuccess) cudaGetLastError();
  } catch (...) {
    // Buffers freed by static destructors at exit meet cudaErrorCudartUnloading
    // (or a destroyed context); nothing useful can be done about any failure here.
    cudaGetLastError();
  }
}

size_t pooled_free_bytes(int device) {
  cudaMemPool_t pool = pool_of(device);
  uint64_t reserved = 0, used = 0;
  CS_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved));
  CS_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used));
  return size_t(reserved - used);
}

void release_pooled_memory() {
  std::map<int, cudaMemPool_t> all;
  {
    std::lock_guard<std::mutex> lock(pools_mutex());
    all = pools();
  }
  for (auto [device, pool] : all) {
    synchronize(use_device(device));
    CS_CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
  }
  PinnedCache& c = pinned_cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  release_cached_pinned(c);
}

void copy_device_to_host(void* host_dst, const void* src, int src_device, size_t bytes) {
  if (bytes == 0) return;
  const DeviceContext& ctx = use_device(src_device);
  CS_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
}

void copy_host_to_device(void* dst, int dst_device, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  const DeviceContext& ctx = use_device(dst_device);
  CS_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, ctx.stream));
  synchronize(ctx);
}

void copy_device_to_host_staged(void* host_dst, const void* src, int src_device, size_t bytes) {
  // Pieces of 16 MiB: the staging buffer stays small, and host threads copy
  // each piece out in parts of 1 MiB or more.
  constexpr size_t kPiece = size_t(16) << 20, kPart = size_t(1) << 20;
  if (bytes < 2 * kPart) {
    copy_device_to_host(host_dst, src, src_device, bytes);
    return;
  }
  // A device's staging buffer serves one copy at a time.
  static std::mutex mutexes[64];
  std::lock_guard<std::mutex> lock(mutexes[unsigned(src_device) % 64]);
  const DeviceContext& ctx = use_device(src_device);
  char* staging = static_cast<char*>(pinned_staging(src_device, std::min(bytes, kPiece)));
  for (size_t at = 0; at < bytes; at += kPiece) {
    const size_t len = std::min(kPiece, bytes - at);
    CS_CUDA_CHECK(cudaMemcpyAsync(staging, static_cast<const char*>(src) + at, len,
                                  cudaMemcpyDeviceToHost, ctx.stream));
    synchronize(ctx);
    char* dst = static_cast<char*>(host_dst) + at;
    parallel_ranges(len, std::max<size_t>(1, len / kPart), [&](size_t b, size_t e) {
      std::memcpy(dst + b, staging + b, e - b);
    });
  }
}

void* pinned_staging(int device, size_t bytes) {
  struct Staging {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  static std::mutex mutex;
  static auto* buffers = new std::map<int, Staging>();  // never freed, as the streams
  std::lock_guard<std::mutex> lock(mutex);
  Staging& s = (*buffers)[device];
  if (s.bytes < bytes) {
    if (s.ptr) CS_CUDA_CHECK(cudaFreeHost(s.ptr));
    s.ptr = nullptr;
    s.bytes = 0;
    CS_CUDA_CHECK(cudaMallocHost(&s.ptr, bytes));
    s.bytes = bytes;
  }
  return s.ptr;
}

void* pinned_allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  PinnedCache& c = pinned_cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    // A cached block of this size, or at most a quarter larger.
    auto found = c.free_blocks.lower_bound(bytes);
    if (found != c.free_blocks.end() && found->first <= bytes + bytes / 4) {
      void* ptr = found->second;
      c.free_blocks.erase(found);
      return ptr;
    }
  }
  // Fresh pinning takes a while (faulting in, registering): other threads'
  // allocations and frees go on meanwhile.
  void* ptr = pin_new_host_memory(bytes);
  std::lock_guard<std::mutex> lock(c.mutex);
  if (!ptr) {
    release_cached_pinned(c);
    ptr = pin_new_host_memory(bytes);
  }
  if (!ptr) {
    size_t free_bytes = 0, total_bytes = 0;
    memory_info(kHost, &free_bytes, &total_bytes);
    throw OutOfMemory(kPinned, bytes, free_bytes, total_bytes);
  }
  c.sizes[ptr] = bytes;
  return ptr;
}

void pinned_free(void* ptr) noexcept {
  if (!ptr) return;
  try {
    PinnedCache& c = pinned_cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto size = c.sizes.find(ptr);
    if (size != c.sizes.end()) c.free_blocks.emplace(size->second, ptr);
  } catch (...) {
  }
}

void copy_host_to_device_beside(void* dst, int dst_device, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  const DeviceContext& ctx = use_device(dst_device);
  CS_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, ctx.transfer_stream));
  CS_CUDA_CHECK(cudaStreamSynchronize(ctx.transfer_stream));
}

void copy_device_to_host_beside(void* host_dst, const void* src, int src_device, size_t bytes) {
  if (bytes == 0) return;
  const DeviceContext& ctx = use_device(src_device);
  CS_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, ctx.download_stream));
  CS_CUDA_CHECK(cudaStreamSynchronize(ctx.download_stream));
}

void synchronize_device(int device) { synchronize(use_device(device)); }

double measure_link_bandwidth(int device, bool to_device) {
  static std::mutex mutex;
  static auto* measured = new std::map<std::pair<int, bool>, double>();
  std::lock_guard<std::mutex> lock(mutex);
  auto found = measured->find({device, to_device});
  if (found != measured->end()) return found->second;
  const size_t bytes = size_t(256) << 20;
  const DeviceContext& ctx = use_device(device);
  void* host = pinned_allocate(bytes);
  void* dev = nullptr;
  double best = 0;
  try {
    dev = device_allocate(device, bytes);
    synchronize(ctx);
    std::memset(host, 1, bytes);
    cudaEvent_t start, stop;
    CS_CUDA_CHECK(cudaEventCreate(&start));
    CS_CUDA_CHECK(cudaEventCreate(&stop));
    // Each direction on the stream that streaming uses for it.
    cudaStream_t stream = to_device ? ctx.transfer_stream : ctx.download_stream;
    for (int k = 0; k < 4; ++k) {  // the first copy warms the link up
      CS_CUDA_CHECK(cudaEventRecord(start, stream));
      if (to_device)
        CS_CUDA_CHECK(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, stream));
      else
        CS_CUDA_CHECK(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, stream));
      CS_CUDA_CHECK(cudaEventRecord(stop, stream));
      CS_CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      CS_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      if (k > 0 && ms > 0) best = std::max(best, double(bytes) / (double(ms) * 1e-3));
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  } catch (...) {
    if (dev) device_free(device, dev);
    pinned_free(host);
    throw;
  }
  device_free(device, dev);
  pinned_free(host);
  return (*measured)[{device, to_device}] = best;
}

void fill_device_zero(void* dst, int device, size_t bytes) {
  if (bytes == 0) return;
  const DeviceContext& ctx = use_device(device);
  CS_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, ctx.stream));
  synchronize(ctx);
}

namespace {

// Lets two GPUs copy to each other directly instead of through host memory,
// once per pair. Best effort: where it fails, cudaMemcpyPeer still works.
void enable_peer_copies(int a, int b) {
  static std::mutex mutex;
  static std::set<std::pair<int, int>> tried;
  std::lock_guard<std::mutex> lock(mutex);
  if (!tried.insert({std::min(a, b), std::max(a, b)}).second) return;
  int a_sees_b = 0, b_sees_a = 0;
  if (cudaDeviceCanAccessPeer(&a_sees_b, a, b) != cudaSuccess ||
      cudaDeviceCanAccessPeer(&b_sees_a, b, a) != cudaSuccess || !a_sees_b || !b_sees_a) {
    cudaGetLastError();
    return;
  }
  for (auto [from, to] : {std::make_pair(a, b), std::make_pair(b, a)}) {
    cudaError_t err = cudaSetDevice(from);
    if (err == cudaSuccess) err = cudaDeviceEnablePeerAccess(to, 0);
    // cudaErrorPeerAccessAlreadyEnabled when other code enabled it first.
    if (err != cudaSuccess) cudaGetLastError();
  }
}

}  // namespace

void copy_anywhere(void* dst, int dst_device, const void* src, int src_device, size_t bytes) {
  if (bytes == 0) return;
  if (is_host_memory(dst_device) && is_host_memory(src_device)) {
    std::memcpy(dst, src, bytes);
  } else if (is_host_memory(dst_device)) {
    copy_device_to_host(dst, src, src_device, bytes);
  } else if (is_host_memory(src_device)) {
    copy_host_to_device(dst, dst_device, src, bytes);
  } else if (dst_device == src_device) {
    const DeviceContext& ctx = use_device(dst_device);
    CS_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx.stream));
    synchronize(ctx);
  } else {
    enable_peer_copies(dst_device, src_device);
    // Every backend call synchronises before returning, so nothing is still
    // being written to `src` on its device when this copy starts.
    const DeviceContext& ctx = use_device(dst_device);
    CS_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device, src, src_device, bytes, ctx.stream));
    synchronize(ctx);
  }
}

}  // namespace cellshard
