#include "h5_csc_reader.h"

#include "../core/errors.h"
#include "../core/memory_budget.h"
#include "host_csr_assembly.h"

namespace cellshard {

H5CscReader::H5CscReader(CompressedArrays arrays, const std::vector<int>& devices,
                         size_t n_shards, const ChunkLimits& limits, const RowShare& share)
    : arrays_(std::move(arrays)), devices_(devices), n_shards_(n_shards) {
  CS_CHECK(!devices_.empty() && n_shards_ >= 1, "no devices or shards to read into");
  range_ = share_rows(share, arrays_.n_minor, nullptr, arrays_.file->who());
  chunk_starts_ = plan_chunks(arrays_.indptr, {0, arrays_.n_major}, limits);
  total_ = int64_t(chunk_starts_.size()) - 1;
}

void H5CscReader::do_step() {
  size_t k = size_t(done_);
  int64_t a = chunk_starts_[k], b = chunk_starts_[k + 1];
  int64_t lo = arrays_.indptr[size_t(a)], hi = arrays_.indptr[size_t(b)];
  std::vector<int64_t> ptr(size_t(b - a + 1));
  for (int64_t g = a; g <= b; ++g) ptr[size_t(g - a)] = arrays_.indptr[size_t(g)] - lo;
  std::vector<int32_t> cells(size_t(hi - lo));
  std::vector<float> values(size_t(hi - lo));
  read_compressed_range(arrays_, lo, hi, a, ptr, cells.data(), values.data());
  cells_.insert(cells_.end(), cells.begin(), cells.end());
  values_.insert(values_.end(), values.begin(), values.end());
  for (int64_t g = a; g < b; ++g)
    genes_.insert(genes_.end(), size_t(ptr[size_t(g - a + 1)] - ptr[size_t(g - a)]), int32_t(g));
}

MatrixPtr H5CscReader::do_finish() {
  HostCsr csr = slice_rows(csr_from_coordinates(file_rows(), n_cols(), cells_, genes_, values_), range_);
  // Under a memory budget: small shards, those past it in pinned host memory.
  size_t n_shards = shards_for_budget(n_shards_, double(csr.n_rows + 1) * 8 +
                                                     double(csr.indices.size()) * 8,
                                      devices_.front(), devices_.size());
  return from_host(csr, balanced_placement(csr.indptr, devices_, n_shards));
}

}  // namespace cellshard
