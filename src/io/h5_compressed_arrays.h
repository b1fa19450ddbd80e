// The three arrays of a compressed sparse matrix stored in HDF5 (data,
// indices, indptr - h5ad's csr/csc groups and the 10x "matrix" group), checked
// against each other and against the stated shape before anything large is
// allocated. Only the pointers are read here; data and indices are streamed.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "h5_file.h"
#include "reader_phases.h"

namespace cellshard {

struct CompressedArrays {
  std::shared_ptr<const h5::File> file;
  std::string group;             // "X", "matrix", ... (for messages)
  h5::Dataset data, indices;
  std::vector<int64_t> indptr;   // n_major + 1 entries, validated
  int64_t n_major = 0;           // rows of CSR (cells), columns of CSC (genes)
  int64_t n_minor = 0;           // what the indices count
  std::string major_word;        // "cell" or "gene", for messages
};

// Opens <group>/data, <group>/indices and <group>/indptr, checks their types
// and lengths against (n_major, n_minor), reads indptr and checks that it
// starts at 0, never decreases and ends at the number of stored entries.
CompressedArrays open_compressed_arrays(std::shared_ptr<const h5::File> file,
                                        const std::string& group, int64_t n_major,
                                        int64_t n_minor, const std::string& major_word);

// Reads entries [lo, hi) of indices (as int32) and data (as float32) into
// `indices` and `values` (hi - lo entries each), checking in one pass over
// them that every index is below n_minor and every value is finite;
// `first_major` and `ptr` (local pointers of the majors covered) name the
// offending cell or gene. Returns whether every major's indices strictly
// increase (canonical form: nothing for canonicalize_rows to do).
// `phases`, when given, gets the seconds spent reading and checking.
bool read_compressed_range(const CompressedArrays& a, int64_t lo, int64_t hi,
                           int64_t first_major, const std::vector<int64_t>& ptr,
                           int32_t* indices, float* values, ReaderPhases* phases = nullptr);

}  // namespace cellshard
