#include "device_partials.h"

#include <algorithm>

#include "backend.h"
#include "cluster.h"
#include "errors.h"
#include "partials_across_ranks.h"
#ifdef CELLSHARD_CUDA
#include "../cuda/nccl_all_reduce.h"
#endif

namespace cellshard {

DevicePartials::DevicePartials(const std::vector<int>& shard_devices, size_t count)
    : count_(count), has_cells_(!shard_devices.empty()) {
  for (int d : shard_devices)
    if (std::find(devices_.begin(), devices_.end(), d) == devices_.end()) devices_.push_back(d);
  // No shards (a matrix without cells, as an MPI rank may hold): zeros in host memory.
  if (devices_.empty()) devices_.push_back(kHost);
  for (int d : devices_) {
    BufferPtr b = make_buffer(d, std::max<size_t>(count, 1) * sizeof(double));
    backend_for(d).fill_zero(b->data(), d, b->bytes());
    accumulators_.push_back(b);
  }
}

double* DevicePartials::on(int device) {
  for (size_t i = 0; i < devices_.size(); ++i)
    if (devices_[i] == device) return accumulators_[i]->as<double>();
  throw Error("internal: no partials on device " + std::to_string(device));
}

void DevicePartials::all_reduce() {
  std::vector<double*> buffers;
  for (auto& b : accumulators_) buffers.push_back(b->as<double>());
  all_reduce_sum(devices_, buffers, count_);
  if (!cluster_active()) return;
  // In an MPI job: the first accumulator's total over the ranks, then copied
  // to the rank's other devices so that every accumulator holds it.
  sum_across_ranks(*accumulators_.front(), count_, has_cells_);
  for (size_t i = 1; i < accumulators_.size(); ++i)
    copy_buffer(*accumulators_[i], 0, *accumulators_.front(), 0, count_ * sizeof(double));
}

std::vector<double> DevicePartials::to_host() const {
  std::vector<double> out(count_);
  accumulators_.front()->download(out.data(), count_ * sizeof(double));
  return out;
}

void all_reduce_sum(const std::vector<int>& devices, const std::vector<double*>& buffers,
                    size_t count) {
  CS_CHECK(devices.size() == buffers.size(), "internal: one buffer per device");
  if (devices.size() <= 1 || count == 0) return;
  // The host is a single device, so several devices are always GPUs.
  CS_CHECK(std::find(devices.begin(), devices.end(), kHost) == devices.end(),
           "internal: host memory in a reduction across GPUs");
#ifdef CELLSHARD_CUDA
  gpu_all_reduce_sum(devices, buffers, count);
#else
  throw_no_cuda_backend(devices.front());
#endif
}

}  // namespace cellshard
