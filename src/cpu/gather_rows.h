// Row and gene selection of one CSR shard held in host memory.
#pragma once
#include <vector>

#include "../core/backend.h"

namespace cellshard {

// See Backend::gather. All pointers in `a` and `values` are host pointers;
// output buffers are allocated in host memory.
GatherOutput gather_rows_on_host(const CsrView& a, const std::vector<const float*>& values,
                                 const std::vector<int64_t>& rows, const GeneMap& genes,
                                 const CsrView* prebuilt);

}  // namespace cellshard
