#include "cublas_handles.h"

#include <map>
#include <mutex>
#include <vector>

namespace cellshard {

namespace {

std::mutex& pool_mutex() {
  static std::mutex m;
  return m;
}

// Idle handles per device. Handles are never destroyed: at process exit the
// CUDA runtime may already be gone (as for the streams of device_context.cu).
std::map<int, std::vector<cublasHandle_t>>& idle_handles() {
  static auto* idle = new std::map<int, std::vector<cublasHandle_t>>();
  return *idle;
}

}  // namespace

CublasLease::CublasLease(const DeviceContext& ctx) : device_(ctx.device), handle_(nullptr) {
  {
    std::lock_guard<std::mutex> lock(pool_mutex());
    auto& idle = idle_handles()[device_];
    if (!idle.empty()) {
      handle_ = idle.back();
      idle.pop_back();
    }
  }
  if (!handle_) {
    CS_CUBLAS_CHECK(cublasCreate(&handle_));
    // Plain IEEE float64 arithmetic: never an emulated or reduced mode.
    cublasStatus_t status = cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH);
    if (status == CUBLAS_STATUS_SUCCESS)
      status = cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_HOST);
    if (status != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(handle_);
      throw_cublas_error(status, "cublasSetMathMode", __FILE__, __LINE__);
    }
  }
  cublasStatus_t status = cublasSetStream(handle_, ctx.stream);
  if (status != CUBLAS_STATUS_SUCCESS) {
    std::lock_guard<std::mutex> lock(pool_mutex());
    idle_handles()[device_].push_back(handle_);
    throw_cublas_error(status, "cublasSetStream", __FILE__, __LINE__);
  }
}

CublasLease::~CublasLease() {
  std::lock_guard<std::mutex> lock(pool_mutex());
  idle_handles()[device_].push_back(handle_);
}

}  // namespace cellshard
