// Owning, untyped memory on the host or on one GPU. Memory belongs to C++:
// R only ever holds handles to objects that own Buffers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace cellshard {

// Device number of memory that lives in ordinary host memory (the CPU backend).
constexpr int kHost = -1;
// Host memory that holds shards kept off their device between passes (out of
// core, core/shard_stream.h): page-locked in a build with GPUs, so that the
// copies to a GPU run at the link's speed; plain host memory otherwise.
constexpr int kPinned = -2;

// Whether memory at `location` (a device number, kHost or kPinned) is host memory.
inline bool is_host_memory(int location) { return location < 0; }

class Buffer {
 public:
  // Allocates `bytes` on `device` (kHost for host memory); throws OutOfMemory.
  Buffer(int device, size_t bytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  int device() const { return device_; }
  size_t bytes() const { return bytes_; }
  void* data() { return ptr_; }
  const void* data() const { return ptr_; }
  template <class T> T* as() { return static_cast<T*>(ptr_); }
  template <class T> const T* as() const { return static_cast<const T*>(ptr_); }

  // Copies between this buffer and host memory (offsets in bytes).
  void upload(const void* host, size_t bytes, size_t offset = 0);
  void download(void* host, size_t bytes, size_t offset = 0) const;

 private:
  int device_;
  size_t bytes_;
  void* ptr_;
};

using BufferPtr = std::shared_ptr<Buffer>;

inline BufferPtr make_buffer(int device, size_t bytes) {
  return std::make_shared<Buffer>(device, bytes);
}

// Copies `bytes` from src (+src_offset) to dst (+dst_offset), whatever devices they are on.
void copy_buffer(Buffer& dst, size_t dst_offset, const Buffer& src, size_t src_offset,
                 size_t bytes);
// The same from memory that no Buffer owns (a view of a staged shard) at
// `src` on `src_device`.
void copy_from_view(Buffer& dst, size_t dst_offset, const void* src, int src_device, size_t bytes);

}  // namespace cellshard
