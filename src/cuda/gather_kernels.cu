#include "gather_kernels.h"

#include "cuda_check.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

__global__ void count_gathered_kernel(const int64_t* __restrict__ indptr,
                                      const int32_t* __restrict__ indices,
                                      const int64_t* __restrict__ rows, int64_t n,
                                      const int64_t* __restrict__ map_ptr,
                                      int64_t* __restrict__ counts) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < n; i += grid_warp_count()) {
    const int64_t r = rows ? rows[i] : i, begin = indptr[r], end = indptr[r + 1];
    if (!map_ptr) {  // identity: the row is copied whole
      if (lane == 0) counts[i] = end - begin;
      continue;
    }
    long long count = 0;
    for (int64_t k = begin + lane; k < end; k += 32) {
      const int32_t g = indices[k];
      count += map_ptr[g + 1] - map_ptr[g];
    }
    count = warp_sum(count);
    if (lane == 0) counts[i] = count;
  }
}

__global__ void fill_gathered_kernel(const int64_t* __restrict__ indptr,
                                     const int32_t* __restrict__ indices,
                                     const int64_t* __restrict__ rows, int64_t n,
                                     const int64_t* __restrict__ map_ptr,
                                     const int32_t* __restrict__ out_cols,
                                     const int64_t* __restrict__ out_ptr,
                                     const float* __restrict__ src_values,
                                     int32_t* __restrict__ cols, float* __restrict__ values) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < n; i += grid_warp_count()) {
    const int64_t r = rows ? rows[i] : i, begin = indptr[r], end = indptr[r + 1];
    int64_t at = out_ptr[i];
    if (!map_ptr) {  // identity: a straight copy of the row
      for (int64_t k = begin + lane; k < end; k += 32) {
        if (cols) cols[at + (k - begin)] = indices[k];
        if (values) values[at + (k - begin)] = src_values[k];
      }
      continue;
    }
    // Chunks of 32 source entries; a warp prefix sum of how many output
    // columns each one becomes gives every lane its write position.
    for (int64_t chunk = begin; chunk < end; chunk += 32) {  // same trip count on every lane
      const int64_t k = chunk + lane;
      int64_t first = 0, copies = 0;
      float v = 0.0f;
      if (k < end) {
        const int32_t g = indices[k];
        first = map_ptr[g];
        copies = map_ptr[g + 1] - first;
        if (values) v = src_values[k];
      }
      const long long through = warp_inclusive_sum(copies);
      const int64_t pos = at + through - copies;
      for (int64_t c = 0; c < copies; ++c) {
        if (cols) cols[pos + c] = out_cols[first + c];
        if (values) values[pos + c] = v;
      }
      at += __shfl_sync(kFullWarp, through, 31);
    }
  }
}

__global__ void values_by_column_kernel(const int64_t* __restrict__ indptr,
                                        const int32_t* __restrict__ indices,
                                        const int64_t* __restrict__ rows, int64_t n,
                                        const int32_t* __restrict__ source_gene,
                                        const int64_t* __restrict__ out_ptr,
                                        const int32_t* __restrict__ out_cols,
                                        const float* __restrict__ src_values,
                                        float* __restrict__ values,
                                        unsigned int* __restrict__ missing) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < n; i += grid_warp_count()) {
    const int64_t r = rows ? rows[i] : i, begin = indptr[r], end = indptr[r + 1];
    const int64_t out_end = out_ptr[i + 1];
    for (int64_t j = out_ptr[i] + lane; j < out_end; j += 32) {
      const int32_t g = source_gene[out_cols[j]];
      // Lower bound of g among the row's sorted gene indices.
      int64_t lo = begin, hi = end;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (indices[mid] < g)
          lo = mid + 1;
        else
          hi = mid;
      }
      if (lo < end && indices[lo] == g) {
        values[j] = src_values[lo];
      } else {
        values[j] = 0.0f;
        *missing = 1u;
      }
    }
  }
}


// 32-entry chunks of a row that a warp loads before it writes any (see
// row_qc_kernels.cu: one chunk at a time leaves the kernels latency-bound).
constexpr int kChunks = 4;

__global__ void count_selected_kernel(const int64_t* __restrict__ indptr,
                                      const int32_t* __restrict__ indices,
                                      const int64_t* __restrict__ rows, int64_t n,
                                      const int32_t* __restrict__ new_col,
                                      int64_t* __restrict__ counts) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < n; i += grid_warp_count()) {
    const int64_t r = rows ? rows[i] : i, begin = indptr[r], end = indptr[r + 1];
    if (!new_col) {  // identity: the row is copied whole
      if (lane == 0) counts[i] = end - begin;
      continue;
    }
    long long count = 0;
    for (int64_t base = begin; base < end; base += 32 * kChunks) {
      int32_t g[kChunks];
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int64_t k = base + 32 * c + lane;
        g[c] = k < end ? indices[k] : -1;
      }
#pragma unroll
      for (int c = 0; c < kChunks; ++c) count += g[c] >= 0 && new_col[g[c]] >= 0;
    }
    count = warp_sum(count);
    if (lane == 0) counts[i] = count;
  }
}

__global__ void fill_selected_kernel(const int64_t* __restrict__ indptr,
                                     const int32_t* __restrict__ indices,
                                     const int64_t* __restrict__ rows, int64_t n,
                                     const int32_t* __restrict__ new_col,
                                     const int64_t* __restrict__ out_ptr,
                                     const float* __restrict__ src_values,
                                     int32_t* __restrict__ cols, float* __restrict__ values) {
  const int lane = lane_id();
  const unsigned lanes_below = (1u << lane) - 1u;
  for (int64_t i = global_warp_id(); i < n; i += grid_warp_count()) {
    const int64_t r = rows ? rows[i] : i, begin = indptr[r], end = indptr[r + 1];
    int64_t at = out_ptr[i];
    for (int64_t base = begin; base < end; base += 32 * kChunks) {  // the same on every lane
      int32_t g[kChunks];
      float v[kChunks];
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int64_t k = base + 32 * c + lane;
        g[c] = k < end && (cols || new_col) ? indices[k] : -1;
        v[c] = k < end && values ? src_values[k] : 0.0f;
      }
      if (!new_col) {  // identity: a straight copy of the row
#pragma unroll
        for (int c = 0; c < kChunks; ++c) {
          const int64_t k = base + 32 * c + lane;
          if (k < end && cols) cols[at + (k - begin)] = g[c];
          if (k < end && values) values[at + (k - begin)] = v[c];
        }
        continue;
      }
      // Kept entries keep their order: a ballot of the chunk gives each its place.
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int32_t col = g[c] >= 0 ? new_col[g[c]] : -1;
        const unsigned kept = __ballot_sync(kFullWarp, col >= 0);
        if (col >= 0) {
          const int64_t p = at + __popc(kept & lanes_below);
          if (cols) cols[p] = col;
          if (values) values[p] = v[c];
        }
        at += __popc(kept);
      }
    }
  }
}

}  // namespace

void launch_count_gathered(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                           int64_t n, const int64_t* map_ptr, int64_t* counts) {
  if (n == 0) return;
  count_gathered_kernel<<<grid_blocks(ctx, n, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
      a.indptr, a.indices, rows, n, map_ptr, counts);
  CS_CUDA_CHECK_LAUNCH("count_gathered_kernel");
}

void launch_fill_gathered(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                          int64_t n, const int64_t* map_ptr, const int32_t* out_cols,
                          const int64_t* out_ptr, const float* src_values, int32_t* cols,
                          float* values) {
  if (n == 0 || (!cols && !values)) return;
  fill_gathered_kernel<<<grid_blocks(ctx, n, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
      a.indptr, a.indices, rows, n, map_ptr, out_cols, out_ptr, src_values, cols, values);
  CS_CUDA_CHECK_LAUNCH("fill_gathered_kernel");
}

void launch_values_by_column(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                             int64_t n, const int32_t* source_gene, const int64_t* out_ptr,
                             const int32_t* out_cols, const float* src_values, float* values,
                             unsigned int* missing) {
  if (n == 0) return;
  values_by_column_kernel<<<grid_blocks(ctx, n, kWarpsPerBlock), kBlockThreads, 0,
                            ctx.stream>>>(a.indptr, a.indices, rows, n, source_gene, out_ptr,
                                          out_cols, src_values, values, missing);
  CS_CUDA_CHECK_LAUNCH("values_by_column_kernel");
}

void launch_count_selected(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                           int64_t n, const int32_t* new_col, int64_t* counts) {
  if (n == 0) return;
  count_selected_kernel<<<grid_blocks(ctx, n, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
      a.indptr, a.indices, rows, n, new_col, counts);
  CS_CUDA_CHECK_LAUNCH("count_selected_kernel");
}

void launch_fill_selected(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                          int64_t n, const int32_t* new_col, const int64_t* out_ptr,
                          const float* src_values, int32_t* cols, float* values) {
  if (n == 0 || (!cols && !values)) return;
  fill_selected_kernel<<<grid_blocks(ctx, n, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
      a.indptr, a.indices, rows, n, new_col, out_ptr, src_values, cols, values);
  CS_CUDA_CHECK_LAUNCH("fill_selected_kernel");
}

}  // namespace cellshard
