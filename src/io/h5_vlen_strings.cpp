#include "h5_vlen_strings.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

namespace cellshard {
namespace h5 {

namespace {

// Little-endian unsigned integer of `n` bytes (the HDF5 file format's order).
uint64_t le(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

struct FileCloser {
  void operator()(FILE* f) const { if (f) std::fclose(f); }
};

class RawFile {
 public:
  explicit RawFile(const std::string& path) : f_(std::fopen(path.c_str(), "rb")) {
    if (f_ && std::fseek(f_.get(), 0, SEEK_END) == 0) size_ = uint64_t(std::ftell(f_.get()));
  }
  bool ok() const { return f_ != nullptr; }
  uint64_t size() const { return size_; }
  // Reads n bytes at `offset`; false when they are not all in the file.
  bool read(uint64_t offset, size_t n, unsigned char* out) const {
    if (offset > size_ || n > size_ - offset) return false;
    if (std::fseek(f_.get(), long(offset), SEEK_SET) != 0) return false;
    return std::fread(out, 1, n, f_.get()) == n;
  }

 private:
  std::unique_ptr<FILE, FileCloser> f_;
  uint64_t size_ = 0;
};

// One global heap collection: object index -> (offset in `bytes`, size).
struct Collection {
  std::vector<unsigned char> bytes;
  std::map<uint64_t, std::pair<size_t, uint64_t>> objects;
};

// Parses the collection at `addr`; returns an error message or "".
std::string load_collection(const RawFile& raw, uint64_t addr, size_t size_of_lengths,
                            Collection* c) {
  unsigned char head[24];
  size_t head_len = 8 + size_of_lengths;
  if (!raw.read(addr, head_len, head)) return "a text reference points outside the file";
  if (std::memcmp(head, "GCOL", 4) != 0 || head[4] != 1)
    return "a text reference does not point to a global heap";
  uint64_t size = le(head + 8, size_of_lengths);
  if (size < head_len || size > raw.size() || addr > raw.size() - size)
    return "a global heap claims a size beyond the end of the file";
  c->bytes.resize(size_t(size));
  if (!raw.read(addr, size_t(size), c->bytes.data())) return "cannot read a global heap";
  size_t obj_head = 8 + size_of_lengths;
  size_t at = head_len;
  while (at + obj_head <= size) {
    const unsigned char* p = c->bytes.data() + at;
    uint64_t index = le(p, 2);
    uint64_t obj_size = le(p + 8, size_of_lengths);
    if (index == 0) break;  // the free-space object ends the list
    if (obj_size > size - at - obj_head) return "a global heap object runs past its heap";
    if (!c->objects.emplace(index, std::make_pair(at + obj_head, obj_size)).second)
      return "a global heap holds the same object index twice";
    at += obj_head + size_t((obj_size + 7) / 8 * 8);
  }
  return "";
}

}  // namespace

bool read_vlen_strings_checked(const Dataset& ds, std::vector<std::string>* out) {
  if (!ds.type().variable_string || ds.rank() != 1) return false;
  Handle dcpl(H5Dget_create_plist(ds.id()));
  if (!dcpl.valid() || H5Pget_layout(dcpl.get()) != H5D_CONTIGUOUS) return false;
  Handle fcpl(H5Fget_create_plist(ds.file().id()));
  size_t size_of_offsets = 0, size_of_lengths = 0;
  hsize_t userblock = 0;
  if (!fcpl.valid() || H5Pget_sizes(fcpl.get(), &size_of_offsets, &size_of_lengths) < 0 ||
      H5Pget_userblock(fcpl.get(), &userblock) < 0 || userblock != 0)
    return false;
  if (size_of_offsets < 2 || size_of_offsets > 8 || size_of_lengths < 2 || size_of_lengths > 8)
    return false;
  size_t n = size_t(ds.dims()[0]);
  out->clear();
  if (n == 0) return true;
  haddr_t offset = H5Dget_offset(ds.id());
  if (offset == HADDR_UNDEF) return false;  // never written: HDF5 reports fill values
  const std::string where = "the text of dataset '" + ds.name() + "' is damaged: ";
  RawFile raw(ds.file().path());
  if (!raw.ok()) return false;
  size_t ref_size = 4 + size_of_offsets + 4;  // length, heap address, object index
  if (double(n) * double(ref_size) > double(raw.size()))
    ds.fail(where + "it claims more entries than the file can hold");
  std::vector<unsigned char> refs(n * ref_size);
  if (!raw.read(offset, refs.size(), refs.data()))
    ds.fail(where + "its data lies beyond the end of the file (truncated file?)");
  std::map<uint64_t, Collection> heaps;
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char* p = refs.data() + i * ref_size;
    uint64_t length = le(p, 4);
    uint64_t addr = le(p + 4, size_of_offsets);
    uint64_t index = le(p + 4 + size_of_offsets, 4);
    if (length == 0) continue;  // "" (HDF5 stores no heap object for it)
    auto it = heaps.find(addr);
    if (it == heaps.end()) {
      Collection c;
      std::string err = load_collection(raw, addr, size_of_lengths, &c);
      if (!err.empty()) ds.fail(where + err + " (entry " + std::to_string(i + 1) + ")");
      it = heaps.emplace(addr, std::move(c)).first;
    }
    auto obj = it->second.objects.find(index);
    if (obj == it->second.objects.end() || obj->second.second != length)
      ds.fail(where + "entry " + std::to_string(i + 1) + " refers to a missing heap object");
    const char* s = reinterpret_cast<const char*>(it->second.bytes.data() + obj->second.first);
    (*out)[i].assign(s, strnlen(s, size_t(length)));
  }
  return true;
}

}  // namespace h5
}  // namespace cellshard
