// Picks the backend that owns a device's memory.
#include "backend.h"

#include "../cpu/cpu_backend.h"
#include "errors.h"
#ifdef CELLSHARD_CUDA
#include "../cuda/cuda_backend.h"
#include "../cuda/device_memory.h"
#endif

namespace cellshard {

std::vector<int32_t> selected_columns(const GeneMap& genes) {
  if (!genes.monotone) return {};
  const size_t n_source = genes.map_ptr.size() - 1;
  std::vector<int32_t> col(n_source, -1);
  for (size_t g = 0; g < n_source; ++g) {
    const int64_t copies = genes.map_ptr[g + 1] - genes.map_ptr[g];
    if (copies > 1) return {};
    if (copies == 1) col[g] = genes.out_cols[size_t(genes.map_ptr[g])];
  }
  return col;
}

Backend& backend_for(int device) {
  if (device == kHost) return cpu_backend();
#ifdef CELLSHARD_CUDA
  if (device == kPinned) {
    // Decided once, so that every pinned buffer is freed by the backend that made it.
    static Backend* pinned = cuda_device_count() > 0 ? &cuda_backend() : &cpu_backend();
    return *pinned;
  }
#else
  if (device == kPinned) return cpu_backend();
#endif
#ifdef CELLSHARD_CUDA
  return cuda_backend();
#else
  throw_no_cuda_backend(device);
#endif
}

void throw_no_cuda_backend(int device) {
  throw Error("this build of cellshard has no CUDA backend, so GPU " + std::to_string(device) +
              " cannot be used; see cellshardInfo()");
}

int gpu_count() {
#ifdef CELLSHARD_CUDA
  return cuda_device_count();
#else
  return 0;
#endif
}

std::string gpu_bus_id(int device) {
#ifdef CELLSHARD_CUDA
  return cuda_device_bus_id(device);
#else
  throw_no_cuda_backend(device);
#endif
}

void memory_info(int device, size_t* free_bytes, size_t* total_bytes) {
  if (is_host_memory(device)) {
    cpu_memory_info(free_bytes, total_bytes);
    return;
  }
#ifdef CELLSHARD_CUDA
  cuda_memory_info(device, free_bytes, total_bytes);
#else
  *free_bytes = *total_bytes = 0;
#endif
}

double link_bandwidth(int device, bool to_device) {
  if (is_host_memory(device)) return 0;
#ifdef CELLSHARD_CUDA
  return measure_link_bandwidth(device, to_device);
#else
  (void)to_device;
  return 0;
#endif
}

void release_unused_device_memory() {
#ifdef CELLSHARD_CUDA
  release_pooled_memory();
#endif
}

}  // namespace cellshard
