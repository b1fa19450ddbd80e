#include "axis_stats.h"

#include "row_qc.h"

namespace cellshard {

// The QC pass without gene subsets (row_qc_kernels.cu).
void row_stats_on_device(const CsrView& a, const float* values, AxisStats out) {
  row_qc_on_device(a, values, nullptr, 0, out, nullptr);
}

}  // namespace cellshard
