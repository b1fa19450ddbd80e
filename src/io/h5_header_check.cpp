#include "h5_header_check.h"

#include <deque>
#include <utility>
#include <vector>

#include "h5_handle.h"
#include "h5_raw_heap.h"

namespace cellshard {
namespace h5 {

namespace {

size_t pad8(size_t n) { return (n + 7) / 8 * 8; }

// Address and version of an object's header; false when unknown.
bool header_location(hid_t obj, haddr_t* addr, unsigned* version) {
#if H5_VERSION_GE(1, 12, 0)
  // The 1.12 API reports tokens, not addresses; leave these files to libhdf5.
  (void)obj; (void)addr; (void)version;
  return false;
#else
  H5O_info_t info;
  if (H5Oget_info2(obj, &info, H5O_INFO_BASIC | H5O_INFO_HDR) < 0) return false;
  *addr = info.addr;
  *version = info.hdr.version;
  return true;
#endif
}

struct AttributeCheck {
  size_t offsets, lengths;
  GlobalHeaps* heaps;
};

// Checks one attribute message (its `size` bytes at d); "" when sound.
std::string check_attribute(const unsigned char* d, size_t size, const AttributeCheck& ctx) {
  if (size < 8) return "an attribute message is too short";
  unsigned version = d[0];
  unsigned flags = version >= 2 ? d[1] : 0;
  size_t name_size = read_le(d + 2, 2), dt_size = read_le(d + 4, 2), ds_size = read_le(d + 6, 2);
  size_t pos = version == 3 ? 9 : 8;
  if (version < 1 || version > 3) return "an attribute message of unknown version";
  auto advance = [&](size_t n) { return version == 1 ? pad8(n) : n; };
  size_t name_at = pos, dt_at = name_at + advance(name_size), ds_at = dt_at + advance(dt_size);
  size_t data_at = ds_at + advance(ds_size);
  if (name_size == 0 || data_at > size) return "an attribute's parts do not fit its message";
  if (d[name_at + name_size - 1] != 0) return "an attribute's name is not terminated";
  if ((flags & 3) != 0) return "";  // shared datatype or dataspace: stored elsewhere
  if (dt_size < 8 || ds_size < 4) return "an attribute's type or shape is truncated";
  const unsigned char* dt = d + dt_at;
  const unsigned char* ds = d + ds_at;
  unsigned type_class = dt[0] & 0x0f;
  uint64_t elem_size = read_le(dt + 4, 4);
  unsigned ds_version = ds[0], rank = ds[1];
  size_t dims_at = ds_version == 1 ? 8 : 4;
  if (rank > 32 || dims_at + rank * ctx.lengths > ds_size) return "an attribute's shape is damaged";
  double n = 1;
  for (unsigned r = 0; r < rank; ++r) n *= double(read_le(ds + dims_at + r * ctx.lengths, ctx.lengths));
  if (ds_version == 2 && ds[3] == 2) n = 0;  // null dataspace
  bool vlen = type_class == 9;
  bool vlen_string = vlen && (dt[1] & 0x0f) == 1;
  if (vlen) {
    // The base type follows (its size at bytes 4..7): libhdf5 sizes its
    // conversion buffer by it, so a damaged size makes it allocate gigabytes.
    if (dt_size < 16) return "an attribute's variable-length type is truncated";
    uint64_t base_size = read_le(dt + 12, 4);
    if (vlen_string ? base_size != 1 : (base_size == 0 || base_size > 4096))
      return "an attribute's variable-length type is damaged";
  }
  double need = n * double(vlen ? 8 + ctx.offsets : elem_size);
  if (need > double(size - data_at)) return "an attribute claims more data than its message holds";
  if (vlen_string && ctx.heaps) {
    std::string value;
    for (size_t i = 0; i < size_t(n); ++i) {
      std::string err = ctx.heaps->fetch(d + data_at + i * (8 + ctx.offsets), &value);
      if (!err.empty()) return "an attribute's text: " + err;
    }
  }
  return "";
}

}  // namespace

std::string check_object_header(hid_t obj, const std::string& file_path) {
  haddr_t addr = HADDR_UNDEF;
  unsigned version = 0;
  if (!header_location(obj, &addr, &version) || version != 1) {
    H5Eclear2(H5E_DEFAULT);
    return "";
  }
  Handle file(H5Iget_file_id(obj));
  size_t offsets = 0, lengths = 0;
  if (!file.valid() || !file_address_sizes(file.get(), &offsets, &lengths)) return "";
  RawFile raw(file_path);
  if (!raw.ok()) return "";
  unsigned char prefix[16];
  if (!raw.read(addr, sizeof prefix, prefix)) return "its header lies beyond the end of the file";
  if (prefix[0] != 1) return "its header has an unknown version";
  uint64_t n_messages = read_le(prefix + 2, 2);
  std::deque<std::pair<uint64_t, uint64_t>> blocks{{addr + 16, read_le(prefix + 8, 4)}};
  GlobalHeaps heaps(raw, offsets, lengths);
  AttributeCheck ctx{offsets, lengths, &heaps};
  uint64_t seen = 0;
  int n_blocks = 0;
  while (!blocks.empty()) {
    auto [at_addr, len] = blocks.front();
    blocks.pop_front();
    if (++n_blocks > 1024 || len > raw.size()) return "its header has too many or too large parts";
    std::vector<unsigned char> block(size_t(len), 0);
    if (!raw.read(at_addr, block.size(), block.data())) return "a part of its header is missing";
    size_t at = 0;
    while (at + 8 <= block.size()) {
      unsigned type = unsigned(read_le(&block[at], 2));
      size_t size = size_t(read_le(&block[at + 2], 2));
      size_t data = at + 8;
      if (size > block.size() - data) return "a header message runs past its block";
      if (++seen > n_messages + 1024) return "its header holds more messages than it declares";
      if (type == 0x10) {  // continuation: offset, length of the next block
        if (size < offsets + lengths) return "a header continuation is truncated";
        blocks.emplace_back(read_le(&block[data], offsets), read_le(&block[data + offsets], lengths));
      } else if (type == 0x0C) {
        std::string err = check_attribute(&block[data], size, ctx);
        if (!err.empty()) return err;
      }
      at = data + size;
    }
  }
  return "";
}

}  // namespace h5
}  // namespace cellshard
