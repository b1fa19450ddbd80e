// Direct, bounds-checked reading of the few parts of the HDF5 file format
// that libhdf5 (1.10) follows without checks and can crash on when a file is
// damaged: references to variable-length data ("vlen references") and the
// global heap collections they point into.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cellshard {
namespace h5 {

// Little-endian unsigned integer of `n` bytes (the file format's byte order).
uint64_t read_le(const unsigned char* p, size_t n);

// The raw bytes of a file, read with bounds checks.
class RawFile {
 public:
  explicit RawFile(const std::string& path);
  bool ok() const { return f_ != nullptr; }
  uint64_t size() const { return size_; }
  // Reads n bytes at `offset`; false when they are not all in the file.
  bool read(uint64_t offset, size_t n, unsigned char* out) const;

 private:
  struct Closer {
    void operator()(FILE* f) const { if (f) std::fclose(f); }
  };
  std::unique_ptr<FILE, Closer> f_;
  uint64_t size_ = 0;
};

// Sizes of addresses and lengths in a file; false when the file is not one
// these checks handle (a user block shifts every address).
bool file_address_sizes(hid_t file, size_t* size_of_offsets, size_t* size_of_lengths);

// The global heap objects of a file, parsed on first use and checked.
class GlobalHeaps {
 public:
  GlobalHeaps(const RawFile& raw, size_t size_of_offsets, size_t size_of_lengths)
      : raw_(raw), offsets_(size_of_offsets), lengths_(size_of_lengths) {}
  // Bytes in a vlen reference: length (4), heap address, object index (4).
  size_t reference_size() const { return 8 + offsets_; }
  // Follows the reference at `ref`; "" and the string, or an error message.
  std::string fetch(const unsigned char* ref, std::string* value);

 private:
  struct Collection {
    std::vector<unsigned char> bytes;
    std::map<uint64_t, std::pair<size_t, uint64_t>> objects;  // index -> (offset, size)
  };
  std::string load(uint64_t addr, Collection* c) const;

  const RawFile& raw_;
  size_t offsets_, lengths_;
  std::map<uint64_t, Collection> heaps_;
};

}  // namespace h5
}  // namespace cellshard
