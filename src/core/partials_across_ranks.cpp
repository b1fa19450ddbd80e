#include "partials_across_ranks.h"

#include <cstdint>
#include <string>
#include <vector>

#include "cluster.h"
#include "cluster_collectives.h"
#include "errors.h"
#ifdef CELLSHARD_CUDA
#include "../cuda/nccl_cluster.h"
#endif

namespace cellshard {

void sum_across_ranks(Buffer& buffer, size_t count, bool has_cells) {
  const ClusterState cluster = cluster_state();
  const size_t bytes = count * sizeof(double);
  // Maximum over ranks of {count, -count, "some rank with cells is on the host"}.
  int64_t agree[3] = {int64_t(count), -int64_t(count),
                      has_cells && buffer.device() == kHost ? 1 : 0};
  cluster_max(agree, 3, "checking that the ranks agree before summing per-gene results");
  if (agree[0] != -agree[1])
    throw Error("the MPI ranks disagree on the size of a per-gene result (" +
                std::to_string(-agree[1]) + " to " + std::to_string(agree[0]) +
                " values): every rank must run the same steps on the same genes");
  if (count == 0) return;

#ifdef CELLSHARD_CUDA
  if (cluster.nccl && agree[2] == 0) {
    if (buffer.device() == cluster.nccl_device) {
      nccl_cluster_sum(buffer.as<double>(), count, cluster.timeout_seconds);
      return;
    }
    // Partials on another GPU of this rank, or on the host of a rank without
    // cells: through the communicator's GPU.
    BufferPtr stage = make_buffer(cluster.nccl_device, bytes);
    copy_buffer(*stage, 0, buffer, 0, bytes);
    nccl_cluster_sum(stage->as<double>(), count, cluster.timeout_seconds);
    copy_buffer(buffer, 0, *stage, 0, bytes);
    return;
  }
#endif
  std::vector<double> host(count);
  buffer.download(host.data(), bytes);
  cluster_sum(host.data(), count, "summing per-gene results over the ranks");
  buffer.upload(host.data(), bytes);
}

}  // namespace cellshard
