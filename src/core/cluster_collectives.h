// Collectives between the ranks of the MPI job (core/cluster.h), each guarded
// by a watchdog: the operation is started non-blocking and polled, and a rank
// that waits longer than the cluster's timeout fails with an error naming the
// collective (R's error handler then ends the job; see cellshardInit). So a
// rank that died or hangs stops the others within the timeout instead of
// never. Without an active cluster each is the identity of a job of one rank.
// `what` names the step, for messages. Counts beyond MPI's int are cut into
// several calls.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cellshard {

// In-place sums over the ranks (every rank gets the total). Summation order
// is MPI's: the same on every rank for a given job size.
void cluster_sum(double* data, size_t n, const char* what);
void cluster_sum(int64_t* data, size_t n, const char* what);
int64_t cluster_sum(int64_t value, const char* what);

// In-place element-wise maximum over the ranks.
void cluster_max(int64_t* data, size_t n, const char* what);

// `bytes` bytes of `data` from `root` to every rank.
void cluster_broadcast(void* data, size_t bytes, int root, const char* what);

// Every rank's bytes, in rank order, on `root` (other ranks get an empty list).
std::vector<std::vector<uint8_t>> cluster_gather(const std::vector<uint8_t>& mine, int root,
                                                 const char* what);

// Every rank's bytes, in rank order, on every rank.
std::vector<std::vector<uint8_t>> cluster_allgather(const std::vector<uint8_t>& mine,
                                                    const char* what);

// Waits until every rank has arrived.
void cluster_barrier(const char* what);

}  // namespace cellshard
