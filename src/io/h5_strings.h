// Reading text (fixed- or variable-length, ASCII or UTF-8) out of a dataset or
// attribute, shared by Dataset::read_strings and the string attributes.
#pragma once
#include <hdf5.h>

#include <functional>
#include <string>
#include <vector>

namespace cellshard {
namespace h5 {

// Reads n strings stored with `file_type`. `read(mem_type, buffer)` performs
// the H5Dread / H5Aread; returns false when it failed (the caller reports).
bool read_string_elements(hid_t file_type, size_t n,
                          const std::function<herr_t(hid_t, void*)>& read,
                          std::vector<std::string>* out);

// Converts n raw integers of `size` bytes (native byte order) into T; used for
// enums (h5py booleans), which not every HDF5 release converts to numbers.
template <class T>
void convert_raw_integers(const unsigned char* raw, size_t n, size_t size, bool is_signed,
                          T* out);

}  // namespace h5
}  // namespace cellshard
