// Per-gene (or any fixed-size) partial results in float64, one accumulator
// in the memory of each device that holds shards. Kernels add their shard's
// part into the accumulator of its device (shards of one device run in order
// on one thread, so there is no race); all_reduce() then sums the devices'
// accumulators: NCCL between GPUs, so only the final totals leave the devices.
// In an MPI job (core/cluster.h) the totals are then summed over the ranks.
#pragma once
#include <cstddef>
#include <vector>

#include "buffer.h"

namespace cellshard {

class DevicePartials {
 public:
  // Zeroed accumulators of `count` doubles for each distinct device of
  // `shard_devices` (one in host memory when there are no shards).
  DevicePartials(const std::vector<int>& shard_devices, size_t count);

  double* on(int device);

  // Afterwards every device's accumulator holds the sum over devices (and
  // over the ranks of an MPI job).
  void all_reduce();
  // The total (call all_reduce() first), copied to the host.
  std::vector<double> to_host() const;
  // The device whose accumulator is read by to_host().
  int first_device() const { return devices_.front(); }

 private:
  size_t count_;
  bool has_cells_;
  std::vector<int> devices_;  // distinct, in order of first appearance
  std::vector<BufferPtr> accumulators_;
};

// Sums `count` doubles over the given buffers (one per device, all GPUs or a
// single host buffer), in place: afterwards each holds the total.
void all_reduce_sum(const std::vector<int>& devices, const std::vector<double*>& buffers,
                    size_t count);

}  // namespace cellshard
