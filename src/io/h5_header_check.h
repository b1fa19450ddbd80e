// Checks an object's header before libhdf5 decodes its attributes. Version-1
// object headers (what h5py and anndata write by default) carry no checksum,
// and libhdf5 1.10 trusts the sizes inside them: fuzzing found damaged
// attribute messages that made H5Aexists read out of bounds and damaged
// text references that made H5Aread crash or allocate without limit.
#pragma once
#include <hdf5.h>

#include <string>

namespace cellshard {
namespace h5 {

// "" when the header of `obj` is sound (or is of a kind this check leaves to
// libhdf5: version-2 headers, whose checksums libhdf5 verifies); otherwise
// what is damaged. Checks that every message lies within its block, that each
// attribute's parts and data fit its message, and that the text references of
// variable-length string attributes point to existing heap objects.
std::string check_object_header(hid_t obj, const std::string& file_path);

}  // namespace h5
}  // namespace cellshard
