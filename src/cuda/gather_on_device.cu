#include "gather_on_device.h"

#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>
#include <cub/util_type.cuh>

#include <algorithm>
#include <functional>

#include "../core/buffer.h"
#include "../core/errors.h"
#include "../core/parallel_for.h"
#include "cuda_check.h"
#include "device_context.h"
#include "gather_kernels.h"

namespace cellshard {

namespace {

template <class T>
BufferPtr upload_vector(int device, const std::vector<T>& host) {
  BufferPtr b = make_buffer(device, host.size() * sizeof(T));
  b->upload(host.data(), b->bytes());
  return b;
}

// CUB reads a null temporary-storage pointer as "only report the size", so
// temporary storage is never empty.
BufferPtr cub_temp_storage(int device, size_t bytes) {
  return make_buffer(device, std::max<size_t>(bytes, 1));
}

// Fills the n + 1 output row pointers (counts(counts) writes each row's
// count, then a prefix sum) and returns the number of output entries.
int64_t build_row_pointers(const DeviceContext& ctx, int device, int64_t n,
                           const std::function<void(int64_t*)>& count, int64_t* out_ptr) {
  CS_CUDA_CHECK(cudaMemsetAsync(out_ptr, 0, sizeof(int64_t), ctx.stream));
  if (n == 0) {
    synchronize(ctx);
    return 0;
  }
  BufferPtr counts = make_buffer(device, size_t(n) * sizeof(int64_t));
  count(counts->as<int64_t>());
  size_t temp_bytes = 0;
  CS_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, temp_bytes, counts->as<int64_t>(),
                                              out_ptr + 1, n, ctx.stream));
  BufferPtr temp = cub_temp_storage(device, temp_bytes);
  CS_CUDA_CHECK(cub::DeviceScan::InclusiveSum(temp->data(), temp_bytes, counts->as<int64_t>(),
                                              out_ptr + 1, n, ctx.stream));
  int64_t nnz = 0;
  CS_CUDA_CHECK(
      cudaMemcpyAsync(&nnz, out_ptr + n, sizeof(int64_t), cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
  return nnz;
}

// Sorts the columns within every output row. CUB ping-pongs between `cols`
// and a second buffer; returns whichever ends up holding the sorted columns.
BufferPtr sort_row_columns(const DeviceContext& ctx, int device, BufferPtr cols,
                           const int64_t* out_ptr, int64_t n, int64_t nnz) {
  BufferPtr alt = make_buffer(device, size_t(nnz) * sizeof(int32_t));
  cub::DoubleBuffer<int32_t> keys(cols->as<int32_t>(), alt->as<int32_t>());
  size_t temp_bytes = 0;
  CS_CUDA_CHECK(cub::DeviceSegmentedSort::SortKeys(nullptr, temp_bytes, keys, nnz, n, out_ptr,
                                                   out_ptr + 1, ctx.stream));
  BufferPtr temp = cub_temp_storage(device, temp_bytes);
  CS_CUDA_CHECK(cub::DeviceSegmentedSort::SortKeys(temp->data(), temp_bytes, keys, nnz, n,
                                                   out_ptr, out_ptr + 1, ctx.stream));
  synchronize(ctx);  // before `temp` and the spare buffer are freed
  return keys.Current() == cols->as<int32_t>() ? cols : alt;
}

// For each output column, the source gene it comes from (host, n_out entries).
std::vector<int32_t> source_gene_of_columns(const GeneMap& genes) {
  std::vector<int32_t> source(size_t(genes.n_out), 0);
  for (size_t g = 0; g + 1 < genes.map_ptr.size(); ++g)
    for (int64_t m = genes.map_ptr[g]; m < genes.map_ptr[g + 1]; ++m)
      source[size_t(genes.out_cols[size_t(m)])] = int32_t(g);
  return source;
}

}  // namespace

GatherOutput gather_rows_on_device(const CsrView& a, const std::vector<const float*>& values,
                                   const std::vector<int64_t>& rows, const GeneMap& genes,
                                   const CsrView* prebuilt) {
  const int device = a.device;
  const int64_t n = int64_t(rows.size());
  // A bad row number would be an out-of-bounds read on the GPU: check here.
  const int64_t bad = first_index_where(rows.size(), [&](size_t i) {
    return rows[i] < 0 || rows[i] >= a.n_rows;
  });
  CS_CHECK(bad < 0, "internal: gather row " + std::to_string(bad < 0 ? 0 : rows[size_t(bad)]) +
                        " is outside a shard of " + std::to_string(a.n_rows) + " rows");
  CS_CHECK(int64_t(genes.map_ptr.size()) == a.n_cols + 1, "internal: gene map of the wrong size");
  if (prebuilt) {
    CS_CHECK(prebuilt->n_rows == n, "internal: prebuilt index of the wrong size");
    CS_CHECK(prebuilt->device == device, "internal: prebuilt index on another device");
  }

  const DeviceContext& ctx = use_device(device);
  // Every row in order (subset_genes, or a filter that keeps every cell):
  // kernels read null rows as row i, and nothing is uploaded.
  const bool in_order =
      n == a.n_rows && first_index_where(size_t(n), [&](size_t i) { return rows[i] != int64_t(i); }) < 0;
  BufferPtr d_rows = in_order ? nullptr : upload_vector(device, rows);
  const int64_t* rows_ptr = d_rows ? d_rows->as<int64_t>() : nullptr;
  // A selection (genes kept at most once, in order: the identity and every
  // monotone map) takes the kernels without a prefix sum per chunk; the
  // others (repeated or reordered genes) the general ones.
  const std::vector<int32_t> selected = genes.identity ? std::vector<int32_t>() : selected_columns(genes);
  const bool selection = genes.identity || !selected.empty();
  BufferPtr d_new_col, d_map_ptr, d_out_cols;
  if (!selected.empty()) d_new_col = upload_vector(device, selected);
  if (!selection) {
    d_map_ptr = upload_vector(device, genes.map_ptr);
    d_out_cols = upload_vector(device, genes.out_cols);
  }
  const int32_t* new_col = d_new_col ? d_new_col->as<int32_t>() : nullptr;
  const int64_t* map_ptr = d_map_ptr ? d_map_ptr->as<int64_t>() : nullptr;
  const int32_t* out_cols = d_out_cols ? d_out_cols->as<int32_t>() : nullptr;

  GatherOutput out;
  const int64_t* out_ptr = nullptr;
  if (prebuilt) {
    out.nnz = prebuilt->nnz;
    out_ptr = prebuilt->indptr;
  } else {
    out.indptr = make_buffer(device, size_t(n + 1) * sizeof(int64_t));
    out_ptr = out.indptr->as<int64_t>();
    out.nnz = build_row_pointers(
        ctx, device, n,
        [&](int64_t* counts) {
          if (selection) launch_count_selected(ctx, a, rows_ptr, n, new_col, counts);
          else launch_count_gathered(ctx, a, rows_ptr, n, map_ptr, counts);
        },
        out.indptr->as<int64_t>());
    out.indices = make_buffer(device, size_t(out.nnz) * sizeof(int32_t));
  }
  for (size_t l = 0; l < values.size(); ++l)
    out.values.push_back(make_buffer(device, size_t(out.nnz) * sizeof(float)));
  if (out.nnz == 0) return out;
  for (const float* v : values) CS_CHECK(v != nullptr, "internal: gather without values");

  int32_t* new_cols = prebuilt ? nullptr : out.indices->as<int32_t>();
  if (selection) {
    // Columns (with the first layer) and each value layer in one pass each.
    if (values.empty())
      launch_fill_selected(ctx, a, rows_ptr, n, new_col, out_ptr, nullptr, new_cols, nullptr);
    for (size_t l = 0; l < values.size(); ++l)
      launch_fill_selected(ctx, a, rows_ptr, n, new_col, out_ptr, values[l],
                           l == 0 ? new_cols : nullptr, out.values[l]->as<float>());
    synchronize(ctx);
    return out;
  }
  // Columns come out of source order unsorted: write, then sort each row.
  // Values are then looked up by column, so that every layer, now or in a
  // later call with `prebuilt`, follows the same (unique) sorted order.
  if (new_cols) {
    launch_fill_gathered(ctx, a, rows_ptr, n, map_ptr, out_cols, out_ptr, nullptr, new_cols,
                         nullptr);
    out.indices = sort_row_columns(ctx, device, out.indices, out_ptr, n, out.nnz);
  }
  if (values.empty()) {
    synchronize(ctx);
    return out;
  }
  const int32_t* sorted_cols = prebuilt ? prebuilt->indices : out.indices->as<int32_t>();
  BufferPtr d_source_gene = upload_vector(device, source_gene_of_columns(genes));
  BufferPtr d_missing = make_buffer(device, sizeof(unsigned int));
  CS_CUDA_CHECK(cudaMemsetAsync(d_missing->data(), 0, sizeof(unsigned int), ctx.stream));
  for (size_t l = 0; l < values.size(); ++l)
    launch_values_by_column(ctx, a, rows_ptr, n, d_source_gene->as<int32_t>(), out_ptr,
                            sorted_cols, values[l], out.values[l]->as<float>(),
                            d_missing->as<unsigned int>());
  unsigned int missing = 0;
  CS_CUDA_CHECK(cudaMemcpyAsync(&missing, d_missing->data(), sizeof(unsigned int),
                                cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
  CS_CHECK(missing == 0, "internal: a prebuilt gather index does not match its source shard");
  return out;
}

}  // namespace cellshard
