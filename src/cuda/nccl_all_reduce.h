// Sum of float64 buffers across GPUs, in place (every buffer gets the total).
// With NCCL: one communicator per set of devices, created on first use and
// kept for the life of the process. Without NCCL (a build whose configure
// did not find it) the buffers go through the host.
#pragma once
#include <cstddef>
#include <vector>

namespace cellshard {

void gpu_all_reduce_sum(const std::vector<int>& devices, const std::vector<double*>& buffers,
                        size_t count);

// "NCCL <version>" or "host staging": what gpu_all_reduce_sum uses.
const char* gpu_all_reduce_method();

}  // namespace cellshard
