#include "device_context.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "cuda_check.h"

namespace cellshard {

namespace {

std::mutex& contexts_mutex() {
  static std::mutex m;
  return m;
}

// Map nodes never move, so references handed out stay valid. Streams are
// never destroyed: at process exit the CUDA runtime may already be gone.
std::map<int, DeviceContext>& contexts() {
  static auto* all = new std::map<int, DeviceContext>();
  return *all;
}

}  // namespace

const DeviceContext& use_device(int device) {
  CS_CUDA_CHECK(cudaSetDevice(device));
  std::lock_guard<std::mutex> lock(contexts_mutex());
  auto found = contexts().find(device);
  if (found != contexts().end()) return found->second;
  DeviceContext ctx;
  ctx.device = device;
  // A blocking stream: it stays ordered with legacy default-stream work that
  // other code (libraries, cudaMemcpy) may queue on the same device.
  CS_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamDefault));
  CS_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.transfer_stream, cudaStreamNonBlocking));
  CS_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.download_stream, cudaStreamNonBlocking));
  CS_CUDA_CHECK(cudaDeviceGetAttribute(&ctx.sm_count, cudaDevAttrMultiProcessorCount, device));
  return contexts().emplace(device, ctx).first->second;
}

void synchronize(const DeviceContext& ctx) { CS_CUDA_CHECK(cudaStreamSynchronize(ctx.stream)); }

unsigned int grid_blocks(const DeviceContext& ctx, int64_t items, int items_per_block) {
  // 32 blocks of 256 threads per SM is four times what fits at once: enough
  // to hide tails, few enough that grid-stride loops do the rest.
  const int64_t cap = int64_t(ctx.sm_count) * 32;
  const int64_t wanted = (items + items_per_block - 1) / items_per_block;
  return unsigned(std::max<int64_t>(1, std::min(wanted, cap)));
}

}  // namespace cellshard
