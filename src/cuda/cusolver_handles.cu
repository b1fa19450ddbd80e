#include "cusolver_handles.h"

#include <map>
#include <string>

#include "../core/errors.h"

namespace cellshard {

void check_cusolver(cusolverStatus_t status, const char* what) {
  if (status != CUSOLVER_STATUS_SUCCESS)
    throw Error(std::string("cuSOLVER error in ") + what + " (status " +
                std::to_string(int(status)) + ")");
}

// Never destroyed: the CUDA runtime may be gone at process exit.
SolverSlot& solver_slot(int device) {
  static std::mutex mutex;
  static auto* slots = new std::map<int, SolverSlot*>();
  std::lock_guard<std::mutex> lock(mutex);
  SolverSlot*& slot = (*slots)[device];
  if (!slot) slot = new SolverSlot();
  return *slot;
}

void ready(SolverSlot& slot, cudaStream_t stream) {
  if (!slot.handle) {
    check_cusolver(cusolverDnCreate(&slot.handle), "cusolverDnCreate");
    check_cusolver(cusolverDnCreateParams(&slot.params), "cusolverDnCreateParams");
  }
  check_cusolver(cusolverDnSetStream(slot.handle, stream), "cusolverDnSetStream");
}

}  // namespace cellshard
