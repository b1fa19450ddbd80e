#include "r_handle.h"

#include "core/backend.h"

namespace cellshard {

static void finalize_handle(SEXP ptr) {
  auto* h = static_cast<MatrixHandle*>(R_ExternalPtrAddr(ptr));
  if (!h) return;
  R_ClearExternalPtr(ptr);
  delete h;  // never throws: buffer destructors swallow driver-shutdown errors
}

SEXP wrap_matrix(MatrixPtr m) {
  auto* h = new MatrixHandle{std::move(m)};
  SEXP ptr = PROTECT(R_MakeExternalPtr(h, Rf_install("cellshard_matrix"), R_NilValue));
  R_RegisterCFinalizerEx(ptr, finalize_handle, TRUE);
  UNPROTECT(1);
  return ptr;
}

MatrixPtr get_matrix(SEXP handle) {
  if (TYPEOF(handle) != EXTPTRSXP || R_ExternalPtrTag(handle) != Rf_install("cellshard_matrix"))
    throw Error("not a cellshard device handle");
  auto* h = static_cast<MatrixHandle*>(R_ExternalPtrAddr(handle));
  if (!h || !h->matrix)
    throw Error(
        "[cellshard:stale] this assay's device data is gone: it was released with "
        "releaseDevice(), or the object was saved and reloaded (saveRDS/readRDS) or sent to "
        "another process, which device memory does not survive");
  return h->matrix;
}

void free_matrix(SEXP handle) {
  if (TYPEOF(handle) != EXTPTRSXP) return;
  finalize_handle(handle);
}

std::vector<int> devices_from_r(const Rcpp::IntegerVector& devices) {
  std::vector<int> d(devices.begin(), devices.end());
  if (d.empty()) throw Error("no devices given");
  for (int x : d)
    if (x != kHost && (x < 0 || x >= gpu_count()))
      throw Error("GPU " + std::to_string(x) + " is not visible (this process sees " +
                  std::to_string(gpu_count()) + " GPUs)");
  return d;
}

}  // namespace cellshard
