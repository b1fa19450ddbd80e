#include "r_handle.h"

#include "core/backend.h"

namespace cellshard {

namespace {

const char kStale[] =
    "[cellshard:stale] this assay's device data is gone: it was released with "
    "releaseDevice(), or the object was saved and reloaded (saveRDS/readRDS) or sent to "
    "another process, which device memory does not survive";

struct DenseHandle {
  DenseShardsPtr dense;
};

// What an external pointer tagged `tag` owns (T: MatrixHandle or DenseHandle).
template <class T>
T* handle_of(SEXP ptr, const char* tag) {
  if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != Rf_install(tag))
    throw Error("not a cellshard device handle");
  return static_cast<T*>(R_ExternalPtrAddr(ptr));
}

template <class T>
void finalize(SEXP ptr) {
  auto* h = static_cast<T*>(R_ExternalPtrAddr(ptr));
  if (!h) return;
  R_ClearExternalPtr(ptr);
  delete h;  // never throws: buffer destructors swallow driver-shutdown errors
}

template <class T>
SEXP wrap(T* h, const char* tag) {
  SEXP ptr = PROTECT(R_MakeExternalPtr(h, Rf_install(tag), R_NilValue));
  R_RegisterCFinalizerEx(ptr, finalize<T>, TRUE);
  UNPROTECT(1);
  return ptr;
}

}  // namespace

SEXP wrap_matrix(MatrixPtr m) { return wrap(new MatrixHandle{std::move(m)}, "cellshard_matrix"); }

MatrixPtr get_matrix(SEXP handle) {
  auto* h = handle_of<MatrixHandle>(handle, "cellshard_matrix");
  if (!h || !h->matrix) throw Error(kStale);
  return h->matrix;
}

void free_matrix(SEXP handle) {
  if (TYPEOF(handle) == EXTPTRSXP) finalize<MatrixHandle>(handle);
}

SEXP wrap_dense(DenseShardsPtr d) { return wrap(new DenseHandle{std::move(d)}, "cellshard_dense"); }

DenseShardsPtr get_dense(SEXP handle) {
  auto* h = handle_of<DenseHandle>(handle, "cellshard_dense");
  if (!h || !h->dense) throw Error(kStale);
  return h->dense;
}

void free_dense(SEXP handle) {
  if (TYPEOF(handle) == EXTPTRSXP) finalize<DenseHandle>(handle);
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
