// The last step of DevicePartials::all_reduce in an MPI job: the rank's
// total (already summed over its own devices) is summed over the ranks.
#pragma once
#include <cstddef>

#include "buffer.h"

namespace cellshard {

// Sums `count` doubles of `buffer` over the ranks, in place. `has_cells`:
// whether this rank's partials came from any shard (a rank without cells of
// the matrix contributes zeros from host memory and must not force the host
// path on the others). The ranks first agree, in one small collective, on
// the count (ranks that diverged get an error, not a corrupt sum) and on the
// path: NCCL when every rank with cells has them on GPUs and the cluster has
// a NCCL communicator, else MPI through host memory.
void sum_across_ranks(Buffer& buffer, size_t count, bool has_cells);

}  // namespace cellshard
