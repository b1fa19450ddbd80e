// The small interface that the CPU and CUDA backends implement: memory on one
// kind of device, and the per-shard kernels. Everything else (sharding,
// readers, reductions across shards) is written once in core/ against it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "buffer.h"

namespace cellshard {

// Non-owning view of one CSR shard (cells x genes) on its device.
struct CsrView {
  int device = kHost;
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  int64_t nnz = 0;
  const int64_t* indptr = nullptr;   // n_rows + 1 entries, indptr[0] == 0
  const int32_t* indices = nullptr;  // nnz gene indices, sorted within each row
};

// Which genes a subset keeps, on the host. For each source gene g, its
// output columns are out_cols[map_ptr[g] .. map_ptr[g + 1]) (a gene may be
// kept several times or not at all). `monotone` says that output columns
// grow with source genes, so rows stay sorted without a sort.
struct GeneMap {
  int64_t n_out = 0;
  std::vector<int64_t> map_ptr;  // n_source_genes + 1
  std::vector<int32_t> out_cols;
  bool monotone = true;
  bool identity = false;  // every gene kept once, in order: nothing to remap
};

// Each source gene's output column, or -1 where it is not kept, for a map
// that keeps genes at most once each and in source order (a plain subset, as
// the filter and the HVG step make); empty for other maps. The gathers use it
// to place an entry with one look-up.
std::vector<int32_t> selected_columns(const GeneMap& genes);

// Output of a gather; index buffers are empty when a prebuilt index was given.
struct GatherOutput {
  int64_t nnz = 0;
  BufferPtr indptr;
  BufferPtr indices;
  std::vector<BufferPtr> values;
};

// Per-row or per-column statistics of one value layer, written to host arrays.
struct AxisStats {
  double* sums = nullptr;          // sum of values
  int64_t* n_positive = nullptr;   // count of values > 0 (stored zeros do not count)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // --- memory ---------------------------------------------------------------
  // Throws OutOfMemory with the device's free and total bytes.
  virtual void* allocate(int device, size_t bytes) = 0;
  virtual void release(int device, void* ptr) noexcept = 0;
  virtual void copy_to_host(void* host_dst, const void* src, int src_device, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, int dst_device, const void* host_src, size_t bytes) = 0;
  virtual void copy_between(void* dst, int dst_device, const void* src, int src_device,
                            size_t bytes) = 0;
  virtual void fill_zero(void* dst, int device, size_t bytes) = 0;

  // Copies host memory to `device` on a stream of its own, beside the one
  // kernels run on, so that the copy overlaps kernels queued meanwhile by
  // other threads; returns when the copy has finished. (Out-of-core staging.)
  virtual void upload_beside(void* dst, int device, const void* host_src, size_t bytes) {
    copy_from_host(dst, device, host_src, bytes);
  }
  // The other way: `device` to host memory on a stream of its own, beside the
  // kernels and the uploads; returns when the copy has finished.
  virtual void download_beside(void* host_dst, const void* src, int device, size_t bytes) {
    copy_to_host(host_dst, src, device, bytes);
  }
  // Waits until the work queued on `device` (allocations included) is done.
  virtual void synchronize(int device) {}

  // --- per-shard kernels ----------------------------------------------------
  // Row (cell) statistics: arrays of a.n_rows entries. (Column statistics go
  // through PipelineKernels::col_moments, which sums in a fixed order.)
  virtual void row_stats(const CsrView& a, const float* values, AxisStats out) = 0;

  // Builds the shard made of rows `rows` (local row numbers, any order,
  // repeats allowed) and the genes of `genes`, for every value layer. When
  // `prebuilt` is given (an index this same gather produced before, on the
  // same device), only the values are gathered into it.
  virtual GatherOutput gather(const CsrView& a, const std::vector<const float*>& values,
                              const std::vector<int64_t>& rows, const GeneMap& genes,
                              const CsrView* prebuilt) = 0;
};

// The backend that owns memory on `device` (kHost: the CPU backend; kPinned:
// the CUDA backend where GPUs are visible, else the CPU backend).
Backend& backend_for(int device);

// Throws the error for a GPU device in a build without the CUDA backend.
[[noreturn]] void throw_no_cuda_backend(int device);

// Number of GPUs the CUDA backend sees (0 when built without CUDA or none visible).
int gpu_count();

// PCI bus id of a visible GPU (tells GPUs apart across processes).
std::string gpu_bus_id(int device);

// Free and total bytes of a device (for kHost, the machine's available memory).
void memory_info(int device, size_t* free_bytes, size_t* total_bytes);

// Host-to-device (to_device) or device-to-host bandwidth of a GPU, from or to
// pinned host memory, in bytes per second: measured once (a few copies of
// 256 MiB), then remembered. 0 for the host or without the CUDA backend.
double link_bandwidth(int device, bool to_device);

// GPU memory that cellshard freed but keeps for reuse goes back to the driver,
// so that other programs can have it (no-op without the CUDA backend).
void release_unused_device_memory();

}  // namespace cellshard
