// Error checking for CUDA runtime calls: every failure becomes a
// cellshard::Error that names the call, the source line and CUDA's message.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "../core/errors.h"

namespace cellshard {

// Throws Error for a failed CUDA call. The last error is cleared first so
// that the next call on this thread does not report the same failure again.
[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* what, const char* file,
                                          int line) {
  cudaGetLastError();
  throw Error(std::string("CUDA error in ") + what + " (" + file + ":" + std::to_string(line) +
              "): " + cudaGetErrorString(err));
}

}  // namespace cellshard

// Runs a CUDA runtime call (or a CUB call, which returns cudaError_t) and
// throws cellshard::Error if it failed.
#define CS_CUDA_CHECK(call)                                                   \
  do {                                                                        \
    cudaError_t cs_cuda_err_ = (call);                                        \
    if (cs_cuda_err_ != cudaSuccess)                                          \
      ::cellshard::throw_cuda_error(cs_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

// Checks that the kernel launch just made was accepted (bad configuration,
// missing sm_XX image, ...); faults inside the kernel surface at the next sync.
#define CS_CUDA_CHECK_LAUNCH(kernel_name)                                                 \
  do {                                                                                    \
    cudaError_t cs_cuda_err_ = cudaGetLastError();                                        \
    if (cs_cuda_err_ != cudaSuccess)                                                      \
      ::cellshard::throw_cuda_error(cs_cuda_err_, "launch of " kernel_name, __FILE__, __LINE__); \
  } while (0)
