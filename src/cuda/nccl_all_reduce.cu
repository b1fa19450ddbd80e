#include "nccl_all_reduce.h"

#include <map>
#include <mutex>
#include <string>

#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"
#ifdef CELLSHARD_NCCL
#include <nccl.h>
#else
#include "device_memory.h"
#endif

namespace cellshard {

#ifdef CELLSHARD_NCCL

namespace {

void check_nccl(ncclResult_t result, const char* what) {
  if (result != ncclSuccess)
    throw Error(std::string("NCCL error in ") + what + ": " + ncclGetErrorString(result));
}

// Communicators are never destroyed: at process exit the CUDA runtime may be
// gone before static destructors run (as for the streams of device_context.cu).
const std::vector<ncclComm_t>& communicators_for(const std::vector<int>& devices) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::vector<int>, std::vector<ncclComm_t>>();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache->find(devices);
  if (it != cache->end()) return it->second;
  std::vector<ncclComm_t> comms(devices.size());
  check_nccl(ncclCommInitAll(comms.data(), int(devices.size()), devices.data()),
             "ncclCommInitAll");
  return cache->emplace(devices, std::move(comms)).first->second;
}

}  // namespace

void gpu_all_reduce_sum(const std::vector<int>& devices, const std::vector<double*>& buffers,
                        size_t count) {
  const std::vector<ncclComm_t>& comms = communicators_for(devices);
  std::vector<const DeviceContext*> contexts;
  for (int d : devices) contexts.push_back(&use_device(d));
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  for (size_t i = 0; i < devices.size(); ++i) {
    ncclResult_t r = ncclAllReduce(buffers[i], buffers[i], count, ncclDouble, ncclSum, comms[i],
                                   contexts[i]->stream);
    if (r != ncclSuccess) {
      ncclGroupEnd();
      check_nccl(r, "ncclAllReduce");
    }
  }
  check_nccl(ncclGroupEnd(), "ncclGroupEnd");
  for (const DeviceContext* ctx : contexts) {
    use_device(ctx->device);
    synchronize(*ctx);
  }
}

const char* gpu_all_reduce_method() {
  static std::string text = [] {
    int v = 0;
    ncclGetVersion(&v);
    return "NCCL " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
           std::to_string(v % 100);
  }();
  return text.c_str();
}

#else

void gpu_all_reduce_sum(const std::vector<int>& devices, const std::vector<double*>& buffers,
                        size_t count) {
  std::vector<double> total(count, 0.0), part(count);
  for (size_t i = 0; i < devices.size(); ++i) {
    copy_device_to_host(part.data(), buffers[i], devices[i], count * sizeof(double));
    for (size_t j = 0; j < count; ++j) total[j] += part[j];
  }
  for (size_t i = 0; i < devices.size(); ++i)
    copy_host_to_device(buffers[i], devices[i], total.data(), count * sizeof(double));
}

const char* gpu_all_reduce_method() { return "host staging (built without NCCL)"; }

#endif

}  // namespace cellshard
