#include "h5_compressed_arrays.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../core/errors.h"
#include "../core/parallel_for.h"
#include "csr_canonical.h"
#include "h5_direct_read.h"

namespace cellshard {

static std::string num(int64_t v) { return std::to_string(v); }

CompressedArrays open_compressed_arrays(std::shared_ptr<const h5::File> file,
                                        const std::string& group, int64_t n_major,
                                        int64_t n_minor, const std::string& major_word) {
  const h5::File& f = *file;
  std::string minor_word = major_word == "cell" ? "gene" : "cell";
  if (n_major < 0 || n_minor < 0) f.fail("'" + group + "' has a negative shape");
  if (n_minor > int64_t(std::numeric_limits<int32_t>::max()))
    f.fail("'" + group + "' has " + num(n_minor) + " " + minor_word +
           "s; at most 2^31 - 1 are supported");
  h5::Dataset indptr_ds = f.dataset(group + "/indptr");
  h5::Dataset indices = f.dataset(group + "/indices");
  h5::Dataset data = f.dataset(group + "/data");
  indptr_ds.require_numbers(true);
  indices.require_numbers(true);
  data.require_numbers(false);
  int64_t n_ptr = indptr_ds.length(), nnz = data.length();
  if (n_ptr != n_major + 1)
    f.fail("'" + group + "/indptr' has " + num(n_ptr) + " entries, expected " + num(n_major + 1) +
           " (one more than the " + num(n_major) + " " + major_word + "s of the shape)");
  if (indices.length() != nnz)
    f.fail("'" + group + "/indices' has " + num(indices.length()) + " entries but '" + group +
           "/data' has " + num(nnz));
  data.check_plausible_size();
  indices.check_plausible_size();
  indptr_ds.check_plausible_size();

  CompressedArrays a{file, group, std::move(data), std::move(indices), {}, n_major, n_minor,
                     major_word};
  a.indptr = indptr_ds.read_all<int64_t>();
  if (a.indptr[0] != 0)
    f.fail("'" + group + "/indptr' starts at " + num(a.indptr[0]) + ", expected 0");
  for (int64_t i = 0; i < n_major; ++i)
    if (a.indptr[size_t(i + 1)] < a.indptr[size_t(i)])
      f.fail("'" + group + "/indptr' is not non-decreasing at " + major_word + " " + num(i + 1) +
             " (1-based): " + num(a.indptr[size_t(i)]) + " then " + num(a.indptr[size_t(i + 1)]));
  if (a.indptr.back() != nnz)
    f.fail("'" + group + "/indptr' ends at " + num(a.indptr.back()) + " but '" + group +
           "/data' holds " + num(nnz) + " entries");
  return a;
}

// Entries per piece of a fused read (2 MiB of indices, 2 MiB of values: each
// read_direct call stays on its thread), and the least worth fusing.
static const int64_t kFusedPiece = int64_t(1) << 19;
static const int64_t kFusedEntries = int64_t(1) << 21;

// Entries [lo, lo + n) of contiguous int32 indices and float32 values, read
// and checked piece by piece on host threads.
static EntryCheck read_and_check(const CompressedArrays& a, int64_t lo, int64_t n,
                                 const std::vector<int64_t>& ptr, int32_t* indices, float* values) {
  const size_t pieces = size_t((n + kFusedPiece - 1) / kFusedPiece);
  std::vector<EntryCheck> found(pieces);
  parallel_for(pieces, [&](size_t p) {
    const int64_t begin = int64_t(p) * kFusedPiece, end = std::min(n, begin + kFusedPiece);
    a.indices.read(indices + begin, hsize_t(lo + begin), hsize_t(end - begin));
    a.data.read(values + begin, hsize_t(lo + begin), hsize_t(end - begin));
    // The entry before the piece may not have been read yet: the order across
    // pieces is checked below, once all are in.
    found[p] = check_entry_range(ptr, indices, values, a.n_minor, begin, end, false);
  });
  EntryCheck all = first_of(found);
  for (size_t p = 1; p < pieces && all.canonical; ++p) {
    const int64_t k = int64_t(p) * kFusedPiece;
    const bool row_start = std::binary_search(ptr.begin(), ptr.end(), k);
    if (!row_start && indices[k] <= indices[k - 1]) all.canonical = false;
  }
  return all;
}

bool read_compressed_range(const CompressedArrays& a, int64_t lo, int64_t hi,
                           int64_t first_major, const std::vector<int64_t>& ptr,
                           int32_t* indices, float* values, ReaderPhases* phases) {
  CS_CHECK(int64_t(ptr.size()) >= 1 && ptr.front() == 0 && ptr.back() == hi - lo,
           "internal: row pointers do not cover the range read");
  const auto t0 = std::chrono::steady_clock::now();
  EntryCheck found;
  if (hi - lo >= kFusedEntries && h5::reads_contiguous<int32_t>(a.indices) &&
      h5::reads_contiguous<float>(a.data)) {
    // Each piece is checked by the thread that read it, while it is still in
    // cache: one pass over memory instead of two.
    found = read_and_check(a, lo, hi - lo, ptr, indices, values);
    if (phases) phases->read += seconds_since(t0);
  } else {
    // HDF5 clips integers that do not fit int32 to its limits, which the
    // range check below then rejects.
    a.indices.read(indices, hsize_t(lo), hsize_t(hi - lo));
    a.data.read(values, hsize_t(lo), hsize_t(hi - lo));
    const auto t1 = std::chrono::steady_clock::now();
    if (phases) phases->read += seconds_since(t0);
    found = check_entries(ptr, indices, values, a.n_minor);
    if (phases) phases->check += seconds_since(t1);
  }
  // The cell or gene (1-based) that holds entry k of this range.
  auto major_of = [&](int64_t k) {
    return first_major + int64_t(std::upper_bound(ptr.begin(), ptr.end(), k) - ptr.begin());
  };
  if (found.index_out_of_range >= 0) {
    std::string minor_word = a.major_word == "cell" ? "gene" : "cell";
    a.file->fail("'" + a.group + "/indices' holds " + minor_word + " index " +
                 num(indices[found.index_out_of_range]) + " in " + a.major_word + " " +
                 num(major_of(found.index_out_of_range)) + " (1-based), outside [0, " +
                 num(a.n_minor) + ")");
  }
  // Values (or a stored type like float64 that overflows float32) must be finite,
  // as everywhere in cellshard.
  if (found.not_finite >= 0)
    a.file->fail("'" + a.group + "/data' holds a NaN or infinite value (or one too large for "
                 "float32) in " + a.major_word + " " + num(major_of(found.not_finite)) +
                 " (1-based)");
  return found.canonical;
}

}  // namespace cellshard
