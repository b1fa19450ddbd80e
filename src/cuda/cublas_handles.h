// cuBLAS handles for the CUDA backend: a pool per device, so that threads
// working on the same device at the same time never share a handle. A lease
// sets its handle to the device's stream.
#pragma once
#include <cublas_v2.h>

#include <string>

#include "../core/errors.h"
#include "device_context.h"

namespace cellshard {

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* what,
                                            const char* file, int line) {
  throw Error(std::string("cuBLAS error in ") + what + " (" + file + ":" + std::to_string(line) +
              "): " + cublasGetStatusString(status));
}

// A handle of `ctx`'s device for the lifetime of the lease; the device must
// be current (use_device) when the lease is taken.
class CublasLease {
 public:
  explicit CublasLease(const DeviceContext& ctx);
  ~CublasLease();
  CublasLease(const CublasLease&) = delete;
  CublasLease& operator=(const CublasLease&) = delete;
  cublasHandle_t get() const { return handle_; }

 private:
  int device_;
  cublasHandle_t handle_;
};

}  // namespace cellshard

#define CS_CUBLAS_CHECK(call)                                                    \
  do {                                                                           \
    cublasStatus_t cs_cublas_status_ = (call);                                   \
    if (cs_cublas_status_ != CUBLAS_STATUS_SUCCESS)                              \
      ::cellshard::throw_cublas_error(cs_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)
