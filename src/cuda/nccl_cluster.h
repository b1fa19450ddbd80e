// A NCCL communicator over the ranks of the MPI job, one GPU per rank (the
// rank's first GPU). Per-gene partials are first summed over a rank's own
// GPUs (nccl_all_reduce.h), then across ranks through this communicator, so
// only totals cross the network. Why one GPU per rank rather than every GPU
// of every rank: a communicator over ranks must be built by all ranks
// together, while the set of GPUs holding a matrix can change from call to
// call on one rank; a fixed communicator built once in cellshardInit() keeps
// every rank's sequence of collectives the same.
//
// The unique id travels by MPI (core/cluster_collectives.h); nothing here
// calls MPI. Every wait is bounded by the cluster's timeout: past it the
// communicator is aborted (ncclCommAbort) and the cluster marked broken.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cellshard {

// Whether this build has NCCL (else the ranks' GPUs exchange through the host).
bool nccl_cluster_built();

// The bytes of a new ncclUniqueId (made on rank 0, broadcast by MPI).
std::vector<uint8_t> nccl_cluster_new_id();

// Joins the communicator as `rank` of `n_ranks` with GPU `device`.
void nccl_cluster_open(const std::vector<uint8_t>& id, int n_ranks, int rank, int device,
                       double timeout_seconds);

// Sums `count` doubles at `buffer` (memory of the communicator's GPU) over
// the ranks, in place.
void nccl_cluster_sum(double* buffer, size_t count, double timeout_seconds);

}  // namespace cellshard
