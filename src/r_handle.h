// Rcpp glue shared by every r_*.cpp file: the R handle to a sharded matrix,
// and the conversion of core exceptions to R errors.
#pragma once
#include <Rcpp.h>

#include <string>

#include "core/dense_shards.h"
#include "core/errors.h"
#include "core/sharded_matrix.h"

namespace cellshard {

// What an R external pointer owns: a shared reference to one value layer.
// Freeing the handle drops the reference; device memory goes when the last
// layer that uses it (the index is shared between layers) is gone.
struct MatrixHandle {
  MatrixPtr matrix;
};

// A new external pointer with a finalizer, tagged "cellshard_matrix".
SEXP wrap_matrix(MatrixPtr m);

// The matrix behind a handle; a clear R error if it was freed or does not
// survive serialisation (saveRDS / readRDS, a worker process).
MatrixPtr get_matrix(SEXP handle);

// Drops the handle's reference now (the explicit free).
void free_matrix(SEXP handle);

// The same for a dense sharded matrix (PCA scores), tagged "cellshard_dense".
SEXP wrap_dense(DenseShardsPtr d);
DenseShardsPtr get_dense(SEXP handle);
void free_dense(SEXP handle);

// Device numbers from R (-1 for the CPU backend), each checked to be visible.
std::vector<int> devices_from_r(const Rcpp::IntegerVector& devices);

}  // namespace cellshard

// Rcpp turns any std::exception into an R error with its message. Out-of-
// memory messages carry a tag that R/device-memory.R recognises, so it can
// run gc() and retry once before reporting a classed condition.
#define CS_R_BEGIN try {
#define CS_R_END                                                                   \
  }                                                                                \
  catch (const cellshard::OutOfMemory& e) {                                        \
    throw Rcpp::exception((std::string("[cellshard:oom] ") + e.what()).c_str(), false); \
  }                                                                                \
  catch (const cellshard::Error& e) {                                              \
    throw Rcpp::exception(e.what(), false);                                        \
  }
