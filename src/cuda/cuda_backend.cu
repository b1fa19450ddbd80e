// The CUDA backend object: Backend's interface wired to the device memory,
// statistics and gather functions of this folder.
#include "cuda_backend.h"

#include "axis_stats.h"
#include "device_memory.h"
#include "gather_on_device.h"

namespace cellshard {

namespace {

// Stateless: per-device state (streams) lives in device_context.cu, behind a
// mutex, so one object serves every device and thread.
class CudaBackend : public Backend {
 public:
  std::string name() const override { return "cuda"; }

  void* allocate(int device, size_t bytes) override {
    return device == kPinned ? pinned_allocate(bytes) : device_allocate(device, bytes);
  }
  void release(int device, void* ptr) noexcept override {
    if (device == kPinned) pinned_free(ptr); else device_free(device, ptr);
  }

  // Pinned buffers (kPinned) are host memory: their copies go through copy_anywhere.
  void copy_to_host(void* host_dst, const void* src, int src_device, size_t bytes) override {
    copy_anywhere(host_dst, kHost, src, src_device, bytes);
  }
  void copy_from_host(void* dst, int dst_device, const void* host_src, size_t bytes) override {
    copy_anywhere(dst, dst_device, host_src, kHost, bytes);
  }
  void upload_beside(void* dst, int device, const void* host_src, size_t bytes) override {
    if (is_host_memory(device)) copy_anywhere(dst, device, host_src, kHost, bytes);
    else copy_host_to_device_beside(dst, device, host_src, bytes);
  }
  void download_beside(void* host_dst, const void* src, int device, size_t bytes) override {
    if (is_host_memory(device)) copy_anywhere(host_dst, kHost, src, device, bytes);
    else copy_device_to_host_beside(host_dst, src, device, bytes);
  }
  void synchronize(int device) override {
    if (!is_host_memory(device)) synchronize_device(device);
  }
  void copy_between(void* dst, int dst_device, const void* src, int src_device,
                    size_t bytes) override {
    copy_anywhere(dst, dst_device, src, src_device, bytes);
  }
  void fill_zero(void* dst, int device, size_t bytes) override {
    fill_device_zero(dst, device, bytes);
  }

  void row_stats(const CsrView& a, const float* values, AxisStats out) override {
    row_stats_on_device(a, values, out);
  }
  GatherOutput gather(const CsrView& a, const std::vector<const float*>& values,
                      const std::vector<int64_t>& rows, const GeneMap& genes,
                      const CsrView* prebuilt) override {
    return gather_rows_on_device(a, values, rows, genes, prebuilt);
  }
};

}  // namespace

Backend& cuda_backend() {
  // Never destroyed, so that Buffers released during static destruction at
  // exit still find their backend.
  static CudaBackend* backend = new CudaBackend();
  return *backend;
}

}  // namespace cellshard
