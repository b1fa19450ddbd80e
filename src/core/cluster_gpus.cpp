#include "cluster_gpus.h"

#include <algorithm>
#include <cstdint>

#include "backend.h"
#include "cluster.h"
#include "cluster_collectives.h"
#include "errors.h"
#ifdef CELLSHARD_CUDA
#include "../cuda/nccl_cluster.h"
#endif

namespace cellshard {

std::vector<int> assign_rank_gpus(const std::vector<RankGpus>& all, int rank) {
  CS_CHECK(rank >= 0 && rank < int(all.size()), "internal: rank out of range");
  const std::string& host = all[size_t(rank)].host;
  // The node's distinct GPUs in order of first appearance, and who sees each.
  std::vector<std::string> gpus;
  std::vector<std::vector<int>> seen_by;
  for (int r = 0; r < int(all.size()); ++r) {
    if (all[size_t(r)].host != host) continue;
    for (const std::string& id : all[size_t(r)].bus_ids) {
      size_t g = size_t(std::find(gpus.begin(), gpus.end(), id) - gpus.begin());
      if (g == gpus.size()) {
        gpus.push_back(id);
        seen_by.emplace_back();
      }
      if (seen_by[g].empty() || seen_by[g].back() != r) seen_by[g].push_back(r);
    }
  }
  std::vector<int> mine;
  const std::vector<std::string>& visible = all[size_t(rank)].bus_ids;
  for (size_t g = 0; g < gpus.size(); ++g) {
    const std::vector<int>& ranks = seen_by[g];
    int owner = ranks[g * ranks.size() / gpus.size()];
    if (owner != rank) continue;
    mine.push_back(int(std::find(visible.begin(), visible.end(), gpus[g]) - visible.begin()));
  }
  std::sort(mine.begin(), mine.end());
  return mine;
}

namespace {

// host, then one bus id per line.
std::vector<uint8_t> encode(const RankGpus& r) {
  std::string text = r.host;
  for (const std::string& id : r.bus_ids) text += "\n" + id;
  return std::vector<uint8_t>(text.begin(), text.end());
}

RankGpus decode(const std::vector<uint8_t>& bytes) {
  RankGpus r;
  std::string text(bytes.begin(), bytes.end());
  size_t at = 0, line = 0;
  while (at <= text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(at, end - at);
    if (line++ == 0) r.host = part;
    else r.bus_ids.push_back(part);
    at = end + 1;
  }
  return r;
}

}  // namespace

std::vector<int> cluster_assign_gpus(int visible_gpus) {
  RankGpus me;
  me.host = cluster_state().host;
  for (int d = 0; d < visible_gpus; ++d) me.bus_ids.push_back(gpu_bus_id(d));
  std::vector<std::vector<uint8_t>> gathered = cluster_allgather(encode(me), "sharing out the GPUs");
  std::vector<RankGpus> all;
  for (const auto& g : gathered) all.push_back(decode(g));
  // Every rank checks every rank, so that all of them stop with the same error.
  for (int r = 0; r < int(all.size()); ++r) {
    bool node_has_gpus = false;
    for (const RankGpus& other : all)
      node_has_gpus = node_has_gpus || (other.host == all[size_t(r)].host && !other.bus_ids.empty());
    if (node_has_gpus && assign_rank_gpus(all, r).empty())
      throw Error("MPI rank " + std::to_string(r) + " (" + all[size_t(r)].host +
                  ") gets no GPU of its own: its node has fewer GPUs than ranks. Start at most "
                  "one rank per GPU on each node, or pass devices = \"cpu\" to cellshardInit()");
  }
  return assign_rank_gpus(all, cluster_rank());
}

bool cluster_open_nccl(int device) {
#ifdef CELLSHARD_CUDA
  const bool built = nccl_cluster_built();
#else
  const bool built = false;
#endif
  int64_t unwilling = (device >= 0 && built) ? 0 : 1;
  cluster_max(&unwilling, 1, "deciding whether the ranks' GPUs talk through NCCL");
  if (unwilling) {
    cluster_set_nccl(-1);
    return false;
  }
#ifdef CELLSHARD_CUDA
  std::vector<uint8_t> id = cluster_rank() == 0 ? nccl_cluster_new_id() : std::vector<uint8_t>();
  int64_t id_bytes = int64_t(id.size());
  cluster_max(&id_bytes, 1, "sharing the NCCL id");
  id.resize(size_t(id_bytes));
  cluster_broadcast(id.data(), id.size(), 0, "sharing the NCCL id");
  nccl_cluster_open(id, cluster_size(), cluster_rank(), device, cluster_state().timeout_seconds);
  cluster_set_nccl(device);
  return true;
#else
  return false;
#endif
}

}  // namespace cellshard
