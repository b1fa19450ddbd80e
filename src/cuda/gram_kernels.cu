// gram: X^T X of a shard in float64, added to a device n_cols x n_cols array,
// by one of two methods chosen from the shard's row lengths
// (sparse_gram_is_faster): the sparse tiles of sparse_gram_tiles.cu, or
// dense blocks. Dense: blocks of rows are densified into a float64 buffer (row-major, i.e. a
// column-major n_cols x rows matrix B) and cublasDsyrk adds B B^T to the
// lower triangle of the Gram; the upper triangle is then mirrored.
// float x float products are exact in float64, and cuBLAS runs in plain
// float64 (CUBLAS_DEFAULT_MATH); cuBLAS gives bit-identical results from run
// to run on the same GPU model.
#include <algorithm>
#include <vector>

#include "../core/errors.h"
#include "cublas_handles.h"
#include "cuda_check.h"
#include "device_context.h"
#include "dense_rows.h"
#include "pipeline_device.h"
#include "sparse_gram_tiles.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

// Copies the lower triangle of the column-major n x n matrix c onto its upper one.
__global__ void mirror_lower_kernel(int64_t n, double* c) {
  for (int64_t idx = global_thread_id(); idx < n * n; idx += grid_thread_count()) {
    const int64_t i = idx % n, j = idx / n;
    if (i < j) c[idx] = c[j + i * n];
  }
}

}  // namespace

void gram_on_device(const CsrView& a, const float* values, double* gram) {
  if (a.nnz == 0 || a.n_rows == 0 || a.n_cols == 0) return;  // adds nothing
  CS_CHECK(values != nullptr, "internal: gram without values");
  CS_CHECK(a.n_cols <= int64_t(INT32_MAX), "internal: gram with too many columns");
  const DeviceContext& ctx = use_device(a.device);
  const int64_t n = a.n_cols;
  const size_t n2 = size_t(n) * size_t(n);
  if (sparse_gram_is_faster(gram_work_on_device(ctx, a)) &&
      sparse_gram_lower(ctx, a, values, RowPointers(ctx, a.indptr), gram)) {
    mirror_lower_kernel<<<grid_blocks(ctx, int64_t(n2), kBlockThreads), kBlockThreads, 0,
                          ctx.stream>>>(n, gram);
    CS_CUDA_CHECK_LAUNCH("mirror_lower_kernel");
    synchronize(ctx);
    return;
  }
  const int64_t block_rows = dense_block_rows(a);
  BufferPtr dense = make_buffer(a.device, size_t(block_rows) * size_t(n) * sizeof(double));
  {
    CublasLease blas(ctx);
    const double one = 1.0;
    for (int64_t r0 = 0; r0 < a.n_rows; r0 += block_rows) {
      const int64_t rows = std::min(block_rows, a.n_rows - r0);
      densify_rows(ctx, a, values, r0, rows, dense->as<double>());
      CS_CUBLAS_CHECK(cublasDsyrk(blas.get(), CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, int(n),
                                  int(rows), &one, dense->as<double>(), int(n), &one,
                                  gram, int(n)));
    }
    mirror_lower_kernel<<<grid_blocks(ctx, int64_t(n2), kBlockThreads), kBlockThreads, 0,
                          ctx.stream>>>(n, gram);
    CS_CUDA_CHECK_LAUNCH("mirror_lower_kernel");
    synchronize(ctx);  // before the handle goes back to the pool
  }
}

}  // namespace cellshard
