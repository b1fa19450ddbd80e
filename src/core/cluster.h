// This process's place in an MPI job (cellshardInit(mpi = TRUE)): its rank,
// the number of ranks, its position among the ranks of its node, and the
// watchdog timeout of every collective. MPI is started only by
// cluster_start(); until then (and in a build without MPI) there is no
// cluster: rank 0 of 1, and nothing here communicates.
//
// Every MPI call is made from the R thread (MPI_THREAD_FUNNELED): the
// per-device worker threads never communicate between ranks.
#pragma once
#include <string>

namespace cellshard {

struct ClusterState {
  bool active = false;  // MPI started by cellshard and not finished
  int rank = 0, size = 1;
  int local_rank = 0, local_size = 1;  // among the ranks of this node (same host name)
  std::string host;
  double timeout_seconds = 300;  // how long a collective may wait for the other ranks
  bool broken = false;           // a collective failed or timed out: no further collectives
  bool nccl = false;             // GPU partials go through a NCCL communicator over the ranks
  int nccl_device = -1;          // this rank's GPU in that communicator
};

// A copy of the current state.
ClusterState cluster_state();
bool cluster_active();
int cluster_rank();
int cluster_size();

// Whether this build can start MPI (configure found it).
bool mpi_built();
// "Open MPI v4.1.4, ..." (the library's own words), or "" without MPI.
std::string mpi_library_version();

// Starts MPI in this process and learns the rank, size and node-local
// position (ranks are grouped by host name). Throws when the build has no
// MPI. Idempotent: a second call only changes the timeout.
void cluster_start(double timeout_seconds);
void cluster_set_timeout(double timeout_seconds);
void cluster_set_nccl(int device);

// Ends MPI at a clean exit (MPI_Finalize); after a broken collective, ends
// the whole job instead (a finalize would wait for ranks that never come).
void cluster_finish();

// Ends every rank of the job now (MPI_Abort): what a failed rank does, so
// that the others stop at once instead of waiting in their next collective.
[[noreturn]] void cluster_abort(int code);

// Marks the cluster broken and throws an Error saying which rank failed in
// which collective (`what`) and why; later collectives fail at once.
[[noreturn]] void cluster_fail(const std::string& what, const std::string& why);

// Throws when the cluster is broken (called before every collective).
void cluster_check_usable(const char* what);

// MPI's words for an error code (MPI_Error_string); "" without MPI.
std::string mpi_error_text(int code);

}  // namespace cellshard
