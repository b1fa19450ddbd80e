#include "nccl_cluster.h"

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "../core/cluster.h"
#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"
#ifdef CELLSHARD_NCCL
#include <nccl.h>
#endif

namespace cellshard {

#ifdef CELLSHARD_NCCL

namespace {

// One communicator per process, never destroyed at exit (the CUDA runtime
// may be gone before static destructors run); aborted on failure.
ncclComm_t g_comm = nullptr;
int g_device = -1;

[[noreturn]] void abort_and_fail(const char* what, const std::string& why) {
  if (g_comm) ncclCommAbort(g_comm);
  g_comm = nullptr;
  cluster_fail(what, why + "; the NCCL communicator over the ranks was aborted");
}

// Polls until the communicator has no operation in progress and, when
// `stream` is given, the stream's work is done; bounded by the timeout.
// The communicator is non-blocking (config.blocking = 0), so a peer that
// never arrives shows up here as "in progress" rather than as a hang.
void wait_for(const char* what, double timeout_seconds, cudaStream_t stream) {
  const auto started = std::chrono::steady_clock::now();
  for (unsigned polls = 0;; ++polls) {
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(g_comm, &state);
    if (r != ncclSuccess) state = r;
    if (state != ncclSuccess && state != ncclInProgress)
      abort_and_fail(what, std::string("NCCL: ") + ncclGetErrorString(state));
    bool done = state == ncclSuccess;
    if (done && stream) {
      cudaError_t e = cudaStreamQuery(stream);
      if (e == cudaErrorNotReady) {
        done = false;
      } else if (e != cudaSuccess) {
        cudaGetLastError();
        abort_and_fail(what, std::string("CUDA: ") + cudaGetErrorString(e));
      }
    }
    if (done) return;
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (waited > timeout_seconds)
      abort_and_fail(what, "waited " + std::to_string(int(waited)) +
                               " s for the other ranks' GPUs (the timeout of cellshardInit()): a "
                               "rank has died, hangs, or took another path through the script");
    if (polls > 200) std::this_thread::sleep_for(std::chrono::microseconds(polls > 20000 ? 1000 : 50));
  }
}

}  // namespace

bool nccl_cluster_built() { return true; }

std::vector<uint8_t> nccl_cluster_new_id() {
  ncclUniqueId id;
  ncclResult_t r = ncclGetUniqueId(&id);
  if (r != ncclSuccess) throw Error(std::string("NCCL error in ncclGetUniqueId: ") + ncclGetErrorString(r));
  std::vector<uint8_t> bytes(sizeof id);
  std::memcpy(bytes.data(), &id, sizeof id);
  return bytes;
}

void nccl_cluster_open(const std::vector<uint8_t>& id, int n_ranks, int rank, int device,
                       double timeout_seconds) {
  const char* what = "creating the NCCL communicator over the ranks";
  if (g_comm) {
    if (g_device == device) return;
    throw Error("the NCCL communicator over the ranks already uses GPU " + std::to_string(g_device) +
                ", not GPU " + std::to_string(device) + "; restart the job to change GPUs");
  }
  ncclUniqueId uid;
  CS_CHECK(id.size() == sizeof uid, "internal: a NCCL id of the wrong size");
  std::memcpy(&uid, id.data(), sizeof uid);
  use_device(device);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclResult_t r = ncclCommInitRankConfig(&g_comm, n_ranks, uid, rank, &config);
  if (r != ncclSuccess && r != ncclInProgress)
    abort_and_fail(what, std::string("NCCL: ") + ncclGetErrorString(r));
  g_device = device;
  wait_for(what, timeout_seconds, nullptr);
}

void nccl_cluster_sum(double* buffer, size_t count, double timeout_seconds) {
  const char* what = "summing per-gene partials over the ranks (NCCL)";
  CS_CHECK(g_comm, "internal: no NCCL communicator over the ranks");
  const DeviceContext& ctx = use_device(g_device);
  ncclResult_t r = ncclAllReduce(buffer, buffer, count, ncclDouble, ncclSum, g_comm, ctx.stream);
  if (r != ncclSuccess && r != ncclInProgress)
    abort_and_fail(what, std::string("NCCL: ") + ncclGetErrorString(r));
  wait_for(what, timeout_seconds, ctx.stream);
}

#else  // CUDA without NCCL: the ranks' GPUs exchange through the host (MPI)

bool nccl_cluster_built() { return false; }
std::vector<uint8_t> nccl_cluster_new_id() { throw Error("internal: this build has no NCCL"); }
void nccl_cluster_open(const std::vector<uint8_t>&, int, int, int, double) {
  throw Error("internal: this build has no NCCL");
}
void nccl_cluster_sum(double*, size_t, double) { throw Error("internal: this build has no NCCL"); }

#endif

}  // namespace cellshard
