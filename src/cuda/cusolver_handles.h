// cuSOLVER dense handles for the CUDA backend: one per device, used under its
// lock (the eigensolvers are called rarely, one at a time per device).
#pragma once
#include <cusolverDn.h>

#include <mutex>

namespace cellshard {

// Throws Error naming `what` when `status` is not success.
void check_cusolver(cusolverStatus_t status, const char* what);

struct SolverSlot {
  std::mutex mutex;
  cusolverDnHandle_t handle = nullptr;
  cusolverDnParams_t params = nullptr;
};

// The device's slot; lock its mutex, then call ready() before using the handle.
SolverSlot& solver_slot(int device);

// Creates the slot's handle on first use and puts it on `stream`. The
// caller holds slot.mutex.
void ready(SolverSlot& slot, cudaStream_t stream);

}  // namespace cellshard
