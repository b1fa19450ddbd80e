#include "h5_vlen_strings.h"

#include "h5_raw_heap.h"

namespace cellshard {
namespace h5 {

bool read_vlen_strings_checked(const Dataset& ds, std::vector<std::string>* out) {
  if (!ds.type().variable_string || ds.rank() != 1) return false;
  Handle dcpl(H5Dget_create_plist(ds.id()));
  if (!dcpl.valid() || H5Pget_layout(dcpl.get()) != H5D_CONTIGUOUS) return false;
  size_t size_of_offsets = 0, size_of_lengths = 0;
  if (!file_address_sizes(ds.file().id(), &size_of_offsets, &size_of_lengths)) return false;
  size_t n = size_t(ds.dims()[0]);
  out->clear();
  if (n == 0) return true;
  haddr_t offset = H5Dget_offset(ds.id());
  if (offset == HADDR_UNDEF) return false;  // never written: HDF5 reports fill values
  RawFile raw(ds.file().path());
  if (!raw.ok()) return false;
  GlobalHeaps heaps(raw, size_of_offsets, size_of_lengths);
  const std::string where = "the text of dataset '" + ds.name() + "' is damaged: ";
  size_t ref_size = heaps.reference_size();
  if (double(n) * double(ref_size) > double(raw.size()))
    ds.fail(where + "it claims more entries than the file can hold");
  std::vector<unsigned char> refs(n * ref_size);
  if (!raw.read(offset, refs.size(), refs.data()))
    ds.fail(where + "its data lies beyond the end of the file (truncated file?)");
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    std::string err = heaps.fetch(refs.data() + i * ref_size, &(*out)[i]);
    if (!err.empty()) ds.fail(where + err + " (entry " + std::to_string(i + 1) + ")");
  }
  return true;
}

}  // namespace h5
}  // namespace cellshard
