#include "buffer.h"

#include "backend.h"
#include "errors.h"
#include "memory_budget.h"

namespace cellshard {

Buffer::Buffer(int device, size_t bytes) : device_(device), bytes_(bytes), ptr_(nullptr) {
  if (bytes_ > 0) ptr_ = backend_for(device_).allocate(device_, bytes_);
  if (ptr_) note_held(device_, int64_t(bytes_));
}

Buffer::~Buffer() {
  if (!ptr_) return;
  backend_for(device_).release(device_, ptr_);
  note_held(device_, -int64_t(bytes_));
}

void Buffer::upload(const void* host, size_t bytes, size_t offset) {
  CS_CHECK(offset + bytes <= bytes_, "internal: upload past the end of a buffer");
  if (bytes == 0) return;
  backend_for(device_).copy_from_host(static_cast<char*>(ptr_) + offset, device_, host, bytes);
}

void Buffer::download(void* host, size_t bytes, size_t offset) const {
  CS_CHECK(offset + bytes <= bytes_, "internal: download past the end of a buffer");
  if (bytes == 0) return;
  backend_for(device_).copy_to_host(host, static_cast<const char*>(ptr_) + offset, device_, bytes);
}

void copy_buffer(Buffer& dst, size_t dst_offset, const Buffer& src, size_t src_offset,
                 size_t bytes) {
  CS_CHECK(src_offset + bytes <= src.bytes(), "internal: copy past the end of a buffer");
  copy_from_view(dst, dst_offset, static_cast<const char*>(src.data()) + src_offset, src.device(),
                 bytes);
}

void copy_from_view(Buffer& dst, size_t dst_offset, const void* src, int src_device, size_t bytes) {
  CS_CHECK(dst_offset + bytes <= dst.bytes(), "internal: copy past the end of a buffer");
  if (bytes == 0) return;
  void* d = static_cast<char*>(dst.data()) + dst_offset;
  // The GPU backend handles any pair that involves a GPU.
  int via = !is_host_memory(dst.device()) ? dst.device() : src_device;
  backend_for(via).copy_between(d, dst.device(), src, src_device, bytes);
}

}  // namespace cellshard
