// What the CUDA runtime reports about the visible GPUs.
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "../core/errors.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "device_memory.h"

namespace cellshard {

int cuda_device_count() {
  int n = 0;
  // No driver, no device or a broken install: report no GPUs, never throw.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

void cuda_memory_info(int device, size_t* free_bytes, size_t* total_bytes) {
  CS_CUDA_CHECK(cudaSetDevice(device));
  CS_CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
  *free_bytes += pooled_free_bytes(device);  // free for cellshard's next allocations
}

std::string cuda_device_description(int device) {
  cudaDeviceProp prop;
  CS_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  char compute[32];
  std::snprintf(compute, sizeof compute, "%d.%d", prop.major, prop.minor);
  return "GPU " + std::to_string(device) + ": " + prop.name + ", compute " + compute + ", " +
         format_bytes(double(prop.totalGlobalMem));
}

std::string cuda_device_bus_id(int device) {
  char id[64] = {0};
  CS_CUDA_CHECK(cudaDeviceGetPCIBusId(id, int(sizeof id), device));
  return id;
}

}  // namespace cellshard
