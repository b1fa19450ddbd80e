// Kernels of the GPU gather (see Backend::gather), one warp per output row.
// Output row i is source row rows[i] (row i when `rows` is null); `map_ptr` /
// `out_cols` are the gene map on the device, or null for the identity map
// (every gene kept once).
#pragma once
#include <cstdint>

#include "../core/backend.h"
#include "device_context.h"

namespace cellshard {

// counts[i] = number of entries of output row i (n > 0).
void launch_count_gathered(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                           int64_t n, const int64_t* map_ptr, int64_t* counts);

// Writes the entries of every output row at out_ptr[i], in source order (each
// source entry expanded to its output columns): the column numbers into
// `cols` and one value layer into `values`, each skipped when null. The rows
// come out sorted when the map is monotone.
void launch_fill_gathered(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                          int64_t n, const int64_t* map_ptr, const int32_t* out_cols,
                          const int64_t* out_ptr, const float* src_values, int32_t* cols,
                          float* values);

// Fills one value layer for an output index already built (columns sorted
// within rows): each output column's source gene (`source_gene`, n_out
// entries) is found in its source row by binary search. Sets *missing to 1
// when a column has no source entry (an index that does not match).
void launch_values_by_column(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                             int64_t n, const int32_t* source_gene, const int64_t* out_ptr,
                             const int32_t* out_cols, const float* src_values, float* values,
                             unsigned int* missing);

// The same two passes for a selection: genes kept at most once each, in
// source order (a monotone map; the filter's and the HVG step's). `new_col`
// (device, n_cols) is each source gene's output column or -1; null is the
// identity map. Rows come out sorted.
void launch_count_selected(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                           int64_t n, const int32_t* new_col, int64_t* counts);
void launch_fill_selected(const DeviceContext& ctx, const CsrView& a, const int64_t* rows,
                          int64_t n, const int32_t* new_col, const int64_t* out_ptr,
                          const float* src_values, int32_t* cols, float* values);

}  // namespace cellshard
