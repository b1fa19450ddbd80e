#include "h5_raw_heap.h"

#include <cstring>

#include "h5_handle.h"

namespace cellshard {
namespace h5 {

uint64_t read_le(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

RawFile::RawFile(const std::string& path) : f_(std::fopen(path.c_str(), "rb")) {
  if (f_ && std::fseek(f_.get(), 0, SEEK_END) == 0) {
    long end = std::ftell(f_.get());
    size_ = end > 0 ? uint64_t(end) : 0;
  }
}

bool RawFile::read(uint64_t offset, size_t n, unsigned char* out) const {
  if (!f_ || offset > size_ || n > size_ - offset) return false;
  if (std::fseek(f_.get(), long(offset), SEEK_SET) != 0) return false;
  return std::fread(out, 1, n, f_.get()) == n;
}

bool file_address_sizes(hid_t file, size_t* size_of_offsets, size_t* size_of_lengths) {
  Handle fcpl(H5Fget_create_plist(file));
  hsize_t userblock = 0;
  if (!fcpl.valid() || H5Pget_sizes(fcpl.get(), size_of_offsets, size_of_lengths) < 0 ||
      H5Pget_userblock(fcpl.get(), &userblock) < 0 || userblock != 0)
    return false;
  return *size_of_offsets >= 2 && *size_of_offsets <= 8 && *size_of_lengths >= 2 &&
         *size_of_lengths <= 8;
}

std::string GlobalHeaps::load(uint64_t addr, Collection* c) const {
  unsigned char head[16];
  size_t head_len = 8 + lengths_;
  if (!raw_.read(addr, head_len, head)) return "a text reference points outside the file";
  if (std::memcmp(head, "GCOL", 4) != 0 || head[4] != 1)
    return "a text reference does not point to a global heap";
  uint64_t size = read_le(head + 8, lengths_);
  if (size < head_len || size > raw_.size() || addr > raw_.size() - size)
    return "a global heap claims a size beyond the end of the file";
  c->bytes.resize(size_t(size));
  if (!raw_.read(addr, size_t(size), c->bytes.data())) return "cannot read a global heap";
  // Walks the objects as libhdf5 does (it goes on after the free-space
  // object), rejecting what would make it loop or read past the heap.
  size_t obj_head = 8 + lengths_;
  size_t at = head_len;
  while (at < size) {
    if (at + obj_head > size) break;  // a remainder too small for an object is free space
    const unsigned char* p = c->bytes.data() + at;
    uint64_t index = read_le(p, 2);
    uint64_t obj_size = read_le(p + 8, lengths_);
    uint64_t need;
    if (index == 0) {
      need = obj_size;  // the free-space object's size includes its header
      if (need < obj_head) return "a global heap's free space is damaged";
    } else {
      if (obj_size > size - at - obj_head) return "a global heap object runs past its heap";
      need = obj_head + (obj_size + 7) / 8 * 8;
      if (!c->objects.emplace(index, std::make_pair(at + obj_head, obj_size)).second)
        return "a global heap holds the same object index twice";
    }
    if (need > size - at) return "a global heap object runs past its heap";
    at += size_t(need);
  }
  return "";
}

std::string GlobalHeaps::fetch(const unsigned char* ref, std::string* value) {
  uint64_t length = read_le(ref, 4);
  uint64_t addr = read_le(ref + 4, offsets_);
  uint64_t index = read_le(ref + 4 + offsets_, 4);
  value->clear();
  if (length == 0) return "";  // "" has no heap object
  auto it = heaps_.find(addr);
  if (it == heaps_.end()) {
    Collection c;
    std::string err = load(addr, &c);
    if (!err.empty()) return err;
    it = heaps_.emplace(addr, std::move(c)).first;
  }
  auto obj = it->second.objects.find(index);
  if (obj == it->second.objects.end()) return "a text reference names a missing heap object";
  if (obj->second.second != length) return "a text reference disagrees with its heap object";
  const char* s = reinterpret_cast<const char*>(it->second.bytes.data() + obj->second.first);
  value->assign(s, strnlen(s, size_t(length)));
  return "";
}

}  // namespace h5
}  // namespace cellshard
