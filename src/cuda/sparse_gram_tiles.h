// The Gram matrix X^T X of a sparse shard without densifying it: for each
// pair of gene panels, one block keeps the panel pair's tile of the Gram in
// shared memory and adds every row's products of its entries in the two
// panels. The work is the sum of the rows' squared lengths, not rows x genes^2,
// so it wins over the dense cuBLAS path (dense_rows + Dsyrk) on sparse data;
// gram_kernels.cu chooses between the two with sparse_gram_is_faster.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/backend.h"
#include "cuda_check.h"
#include "device_context.h"

namespace cellshard {

// What the choice between the methods looks at: the shard's shape and its
// rows' lengths.
struct GramWork {
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  double sum_squared_lengths = 0;  // sum over rows of (entries in the row)^2
};
// From the device's row pointers (a reduction there; only per-block sums come
// back): the Gram of a 1.4M-row shard needs no 11 MB host copy of them.
GramWork gram_work_on_device(const DeviceContext& ctx, const CsrView& a);

// A shard's row pointers as sparse_gram_lower reads them: a few, at its
// chunks' boundaries. Either a host copy of them all (the benchmarks pass
// one) or the device's, read one at a time (8 bytes a read). Defined here,
// inline, so that a benchmark's second build of sparse_gram_tiles.cu
// (bench/gram_kernel.cu's variants) shares the type.
class RowPointers {
 public:
  RowPointers(const std::vector<int64_t>& host) : host_(&host) {}  // NOLINT: implicit on purpose
  RowPointers(const DeviceContext& ctx, const int64_t* device) : ctx_(&ctx), device_(device) {}
  int64_t operator[](int64_t r) const {
    if (host_) return (*host_)[size_t(r)];
    int64_t value = 0;
    CS_CUDA_CHECK(cudaMemcpyAsync(&value, device_ + r, sizeof value, cudaMemcpyDeviceToHost,
                                  ctx_->stream));
    synchronize(*ctx_);
    return value;
  }

 private:
  const std::vector<int64_t>* host_ = nullptr;
  const DeviceContext* ctx_ = nullptr;
  const int64_t* device_ = nullptr;
};

// Whether the sparse method is expected to take less time than the dense one
// (rates measured on an H100; see the comment at the definition).
bool sparse_gram_is_faster(const GramWork& w);

// Adds X^T X of the shard to the lower triangle (i >= j) of the column-major
// n_cols x n_cols `gram` (device), leaving the upper one alone. Returns false,
// having added nothing, when a value is not finite (the caller's dense path
// then carries the NaN / Inf through as float64 arithmetic does).
// Deterministic: the same shard gives the same bits on every run.
bool sparse_gram_lower(const DeviceContext& ctx, const CsrView& a, const float* values,
                       const RowPointers& indptr, double* gram);

// Seconds in each phase of the last sparse_gram_lower call, measured only when
// the environment variable CELLSHARD_GRAM_PROFILE is set (benchmarks; not
// meant for concurrent calls): per-gene scales and buffers, panel layouts,
// tile kernels, adding the parts; and, always, how many chunks of rows it
// laid out (more when the memory budget leaves little room).
struct SparseGramPhases {
  double scales = 0, layout = 0, tiles = 0, finish = 0;
  int chunks = 0;
};
SparseGramPhases sparse_gram_last_phases();

}  // namespace cellshard
