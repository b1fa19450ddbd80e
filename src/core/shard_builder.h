// Builds a sharded matrix from host chunks of consecutive cells. Readers hand
// over one chunk at a time; a thread per device uploads it while the reader
// reads the next, and at most `max_pending` chunks wait in host memory.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "sharded_matrix.h"
#include "staging_allocator.h"

namespace cellshard {

// Cells [first_row, first_row + n) as CSR with row pointers starting at 0.
// The entries sit in staging memory (pinned where GPUs are visible), so that
// they upload at the link's speed.
struct HostChunk {
  int64_t first_row = 0;
  std::vector<int64_t> indptr;
  StagingVector<int32_t> indices;
  StagingVector<float> values;
  int64_t n_rows() const { return int64_t(indptr.size()) - 1; }
};

// Reads a shard again from its file (core/shard_source.h): the shard's number
// and index -> its source. Readers that can give one let shards stay in their file.
using SourceFactory =
    std::function<std::shared_ptr<const ShardSource>(size_t shard, const ShardIndex& index)>;

class ShardBuilder {
 public:
  // shard_nnz[s]: non-zeros the shard will hold (known from the file's row
  // pointers, or from a counting pass). Allocates every shard up front, so
  // running out of device memory is reported before any data is read.
  // Shards past the device's budget (core/memory_budget.h) go to pinned host
  // memory, or, when host memory is short too (or the device is the CPU) and
  // `file_backed` says the reader can read them again, stay in the file:
  // only their row pointers are kept.
  ShardBuilder(int64_t n_cols, const Placement& placement, const std::vector<int64_t>& shard_nnz,
               size_t max_pending = 3, bool file_backed = false);
  ~ShardBuilder();

  // First cell of each shard, plus the total at the end.
  const std::vector<int64_t>& shard_first_rows() const { return first_row_; }
  // Whether shard s is left in its file (finish() then needs a SourceFactory).
  bool in_file(size_t s) const { return in_file_[s]; }

  // Chunks come in cell order and never straddle two shards.
  void put(HostChunk chunk);
  // A chunk already uploaded, handed back for the reader to fill again: its
  // arrays keep their memory, so the next chunk neither asks the system for
  // fresh pages nor has them zeroed (empty when none is free yet).
  HostChunk spare_chunk();
  // Waits for the uploads and checks that every shard is full.
  MatrixPtr finish(const SourceFactory& sources = nullptr);
  // Seconds the devices' threads spent uploading so far (summed over them).
  double upload_seconds();

 private:
  struct Job {
    size_t shard;
    HostChunk chunk;
    int64_t nnz_offset;
  };
  struct Worker {
    int device;
    std::deque<Job> queue;
    std::thread thread;
  };
  void run(Worker* w);
  void rethrow_if_failed();

  int64_t n_cols_;
  std::vector<int64_t> first_row_;
  std::vector<int64_t> rows_done_, nnz_done_;
  std::vector<std::shared_ptr<ShardIndex>> shards_;
  std::vector<BufferPtr> values_;
  std::vector<bool> in_file_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<size_t> worker_of_shard_;
  std::vector<HostChunk> spare_;
  size_t max_pending_, pending_ = 0;
  double upload_seconds_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace cellshard
