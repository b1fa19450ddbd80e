// Row and gene selection of one CSR shard held on a GPU.
#pragma once
#include <vector>

#include "../core/backend.h"

namespace cellshard {

// See Backend::gather. `a`, `values` and `prebuilt` point to memory on
// a.device; `rows` and `genes` are on the host. Outputs are allocated on
// a.device, and the result is the same as the CPU backend's, entry for entry.
GatherOutput gather_rows_on_device(const CsrView& a, const std::vector<const float*>& values,
                                   const std::vector<int64_t>& rows, const GeneMap& genes,
                                   const CsrView* prebuilt);

}  // namespace cellshard
