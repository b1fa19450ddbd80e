#include "device_memory.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "../core/buffer.h"
#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"

namespace cellshard {

void* device_allocate(int device, size_t bytes) {
  if (bytes == 0) return nullptr;
  CS_CUDA_CHECK(cudaSetDevice(device));
  void* ptr = nullptr;
  cudaError_t err = cudaMalloc(&ptr, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so later calls succeed
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) cudaGetLastError();
    throw OutOfMemory(device, bytes, free_bytes, total_bytes);
  }
  if (err != cudaSuccess) throw_cuda_error(err, "cudaMalloc", __FILE__, __LINE__);
  return ptr;
}

void device_free(int device, void* ptr) noexcept {
  if (!ptr) return;
  cudaError_t err = cudaSetDevice(device);
  if (err == cudaSuccess) err = cudaFree(ptr);
  // Buffers freed by static destructors at exit meet cudaErrorCudartUnloading
  // (or a destroyed context); nothing useful can be done about any failure here.
  if (err != cudaSuccess) cudaGetLastError();
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
  if (dst_device == kHost && src_device == kHost) {
    std::memcpy(dst, src, bytes);
  } else if (dst_device == kHost) {
    copy_device_to_host(dst, src, src_device, bytes);
  } else if (src_device == kHost) {
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
