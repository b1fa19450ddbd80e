// row_top_sums: per cell, the sum of its n largest values for each n of
// `ns` (pct_counts_in_top_N_genes). Each row's values are sorted in
// descending order (CUB segmented sort of a copy, a bounded chunk of rows at
// a time, so any row length works) and one thread per row sums them from
// the largest, in float64: the same order, hence the same sums, as the
// host, which sorts in descending order and sums.
#include <cub/device/device_segmented_sort.cuh>

#include <algorithm>
#include <vector>

#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"
#include "pipeline_device.h"

namespace cellshard {

namespace {

// Values sorted per chunk; the chunk also takes CUB's temporary storage
// (about as much again), so a chunk costs some 3 x 4 bytes per value.
constexpr int64_t kChunkValues = int64_t(1) << 25;

// Row pointers of rows [r0, r0 + n) relative to the chunk's first value.
__global__ void chunk_offsets_kernel(int64_t r0, int64_t n, const int64_t* __restrict__ indptr,
                                     int64_t* __restrict__ offsets) {
  const int64_t base = indptr[r0];
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i <= n;
       i += int64_t(gridDim.x) * blockDim.x)
    offsets[i] = indptr[r0 + i] - base;
}

// One thread per row: running sum over the sorted values, recorded at each
// n (ns ascending; a smaller n after a larger one starts again).
__global__ void top_sums_kernel(int64_t r0, int64_t n, int64_t n_rows,
                                const int64_t* __restrict__ offsets,
                                const float* __restrict__ sorted, const int* __restrict__ ns,
                                int n_ns, double* __restrict__ out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float* row = sorted + offsets[i];
    const int64_t len = offsets[i + 1] - offsets[i];
    double sum = 0.0;
    int64_t taken = 0;
    for (int j = 0; j < n_ns; ++j) {
      const int64_t want = min(len, int64_t(max(ns[j], 0)));
      if (want < taken) {
        sum = 0.0;
        taken = 0;
      }
      for (; taken < want; ++taken) sum += double(row[taken]);
      out[int64_t(j) * n_rows + r0 + i] = sum;
    }
  }
}

}  // namespace

void row_top_sums_on_device(const CsrView& a, const float* values, const std::vector<int>& ns,
                            double* out) {
  const int n_ns = int(ns.size());
  if (n_ns == 0 || a.n_rows == 0) return;
  const size_t n_out = size_t(n_ns) * size_t(a.n_rows);
  if (a.nnz == 0) {
    std::fill(out, out + n_out, 0.0);
    return;
  }
  CS_CHECK(values != nullptr, "internal: row_top_sums without values");
  const DeviceContext& ctx = use_device(a.device);

  // Chunks of whole rows, each with at most kChunkValues values (or one row).
  std::vector<int64_t> indptr(size_t(a.n_rows) + 1);
  CS_CUDA_CHECK(cudaMemcpyAsync(indptr.data(), a.indptr, indptr.size() * sizeof(int64_t),
                                cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
  int64_t max_rows = 0, max_values = 0;
  std::vector<int64_t> starts;
  for (int64_t r = 0; r < a.n_rows;) {
    int64_t end = r + 1;
    while (end < a.n_rows && indptr[size_t(end) + 1] - indptr[size_t(r)] <= kChunkValues) ++end;
    starts.push_back(r);
    max_rows = std::max(max_rows, end - r);
    max_values = std::max(max_values, indptr[size_t(end)] - indptr[size_t(r)]);
    r = end;
  }
  starts.push_back(a.n_rows);

  BufferPtr d_ns = upload_array(a.device, ns.data(), ns.size());
  BufferPtr sums = make_buffer(a.device, n_out * sizeof(double));
  BufferPtr offsets = make_buffer(a.device, size_t(max_rows + 1) * sizeof(int64_t));
  BufferPtr sorted = make_buffer(a.device, size_t(std::max<int64_t>(max_values, 1)) * sizeof(float));
  BufferPtr temp;
  for (size_t c = 0; c + 1 < starts.size(); ++c) {
    const int64_t r0 = starts[c], n = starts[c + 1] - r0;
    const int64_t base = indptr[size_t(r0)], count = indptr[size_t(r0 + n)] - base;
    const int64_t* off = offsets->as<int64_t>();
    chunk_offsets_kernel<<<grid_blocks(ctx, n + 1, kBlockThreads), kBlockThreads, 0, ctx.stream>>>(
        r0, n, a.indptr, offsets->as<int64_t>());
    CS_CUDA_CHECK_LAUNCH("chunk_offsets_kernel");
    if (count > 0) {
      size_t temp_bytes = 0;
      CS_CUDA_CHECK(cub::DeviceSegmentedSort::SortKeysDescending(
          nullptr, temp_bytes, values + base, sorted->as<float>(), count, n, off, off + 1,
          ctx.stream));
      if (!temp || temp->bytes() < temp_bytes) {
        synchronize(ctx);  // the old temporary storage may still be in use
        temp = make_buffer(a.device, std::max<size_t>(temp_bytes, 1));
      }
      CS_CUDA_CHECK(cub::DeviceSegmentedSort::SortKeysDescending(
          temp->data(), temp_bytes, values + base, sorted->as<float>(), count, n, off, off + 1,
          ctx.stream));
    }
    top_sums_kernel<<<grid_blocks(ctx, n, kBlockThreads), kBlockThreads, 0, ctx.stream>>>(
        r0, n, a.n_rows, off, sorted->as<float>(), d_ns->as<int>(), n_ns, sums->as<double>());
    CS_CUDA_CHECK_LAUNCH("top_sums_kernel");
  }
  CS_CUDA_CHECK(
      cudaMemcpyAsync(out, sums->data(), sums->bytes(), cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
}

}  // namespace cellshard
