// A checked reader for variable-length strings. libhdf5 (1.10 at least)
// trusts the heap references stored in a dataset: a damaged file makes
// H5Dread crash inside H5HG_read (found by fuzzing). For the usual layout
// (contiguous, as h5py and anndata write text without compression) this
// reader parses the references and the global heap itself, with bounds
// checks, and never lets HDF5 follow them.
#pragma once
#include <string>
#include <vector>

#include "h5_file.h"

namespace cellshard {
namespace h5 {

// The strings of a 1-D variable-length string dataset; false (nothing read)
// when its layout is not one this reader handles (chunked, compact, a file
// with a user block), so the caller falls back to HDF5. Fails on damage.
bool read_vlen_strings_checked(const Dataset& ds, std::vector<std::string>* out);

}  // namespace h5
}  // namespace cellshard
