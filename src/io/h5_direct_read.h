// Reading a range of a 1-D dataset straight from the file into the caller's
// array. HDF5 (Debian's build is not thread-safe) is asked only where the
// bytes are; the reads themselves (pread) and the inflating of gzip chunks
// run on host threads (core/parallel_for.h). Used when the stored type is
// the type asked for, or one converted here as HDF5 would (read_any in the
// .cpp), and the storage is contiguous, or chunked with no filter or deflate
// only; anything else, or CELLSHARD_H5_DIRECT=0, goes through H5Dread.
#pragma once
#include <hdf5.h>

namespace cellshard {
namespace h5 {

class Dataset;

// Where a dataset's bytes lie (worked out once per Dataset).
struct DirectPlan;

// Entries [offset, offset + count) into out. Returns false, having read
// nothing, when the dataset does not qualify; throws the dataset's error on
// a short read (truncated file) or a chunk that does not inflate (corrupt file).
template <class T>
bool read_direct(const Dataset& ds, T* out, hsize_t offset, hsize_t count);

// Whether read_direct reads `ds` as T from contiguous storage without any
// conversion or HDF5 call. Reads of disjoint ranges of such a dataset may run
// on several threads at once; one of under 4 MiB runs on the calling thread.
template <class T>
bool reads_contiguous(const Dataset& ds);

}  // namespace h5
}  // namespace cellshard
