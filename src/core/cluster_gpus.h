// Which GPUs each rank of an MPI job takes (cellshardInit(mpi = TRUE) with
// devices = NULL): the ranks of a node share out the node's GPUs, told apart
// by PCI bus id, so that it works both when every rank sees every GPU
// (mpirun on a node: each takes its own block of them) and when the launcher
// gives each rank its own (Slurm's --gpus-per-task: each takes what it sees).
#pragma once
#include <string>
#include <vector>

namespace cellshard {

// What one rank reports: its host and the bus ids of the GPUs it sees, in
// its CUDA order.
struct RankGpus {
  std::string host;
  std::vector<std::string> bus_ids;
};

// The CUDA device numbers (positions in all[rank].bus_ids) that `rank`
// takes. Each distinct GPU of a node (in order of first appearance by rank)
// goes to one of the ranks that see it: the i-th of G GPUs, seen by ranks
// R, goes to R[i * |R| / G], so ranks seeing all GPUs get equal contiguous
// blocks. A rank may get none (more ranks than GPUs on its node).
std::vector<int> assign_rank_gpus(const std::vector<RankGpus>& all, int rank);

// Collective: gathers every rank's host and visible GPUs and applies
// assign_rank_gpus to this rank. Throws, on every rank alike, when a node has
// GPUs but some rank of it would get none.
std::vector<int> cluster_assign_gpus(int visible_gpus);

// Collective: builds the NCCL communicator over the ranks (cuda/nccl_cluster.h)
// with `device` as this rank's GPU, when every rank passes a GPU (device >= 0)
// and the build has NCCL; otherwise none, and GPU partials cross ranks
// through host memory. Returns whether it was built.
bool cluster_open_nccl(int device);

}  // namespace cellshard
