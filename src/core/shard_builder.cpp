#include "shard_builder.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "errors.h"
#include "memory_budget.h"

namespace cellshard {

ShardBuilder::ShardBuilder(int64_t n_cols, const Placement& p, const std::vector<int64_t>& shard_nnz,
                           size_t max_pending, bool file_backed)
    : n_cols_(n_cols), max_pending_(std::max<size_t>(1, max_pending)) {
  size_t n = p.rows.size();
  CS_CHECK(shard_nnz.size() == n && p.devices.size() == n, "internal: placement sizes differ");
  first_row_.assign(n + 1, 0);
  for (size_t s = 0; s < n; ++s) first_row_[s + 1] = first_row_[s] + p.rows[s];
  rows_done_.assign(n, 0);
  nnz_done_.assign(n, 0);
  in_file_.assign(n, false);
  std::map<int, size_t> planned;  // bytes placed on each device so far
  size_t planned_pinned = 0;
  for (size_t s = 0; s < n; ++s) {
    auto sh = std::make_shared<ShardIndex>();
    sh->device = p.devices[s];
    sh->n_rows = p.rows[s];
    sh->n_cols = n_cols;
    sh->nnz = shard_nnz[s];
    const size_t ptr_bytes = size_t(sh->n_rows + 1) * sizeof(int64_t);
    const size_t bytes = ptr_bytes + size_t(sh->nnz) * (sizeof(int32_t) + sizeof(float));
    // Where the shard lives (core/memory_budget.h): on its device while the
    // budget allows, else in pinned host memory, else in its file.
    int home = sh->device;
    if (!(held_bytes(sh->device) + planned[sh->device] + bytes <= resident_limit(sh->device) ||
          bytes > 2 * stream_shard_bytes(sh->device))) {
      const bool host_short = is_host_memory(sh->device) || !pinned_has_room(planned_pinned + bytes);
      if (file_backed && host_short) {
        in_file_[s] = true;
      } else {
        home = kPinned;
        planned_pinned += bytes;
      }
    }
    if (home == sh->device && !in_file_[s]) planned[sh->device] += bytes;
    sh->indptr = make_buffer(in_file_[s] && !is_host_memory(sh->device) ? kPinned : home, ptr_bytes);
    if (!in_file_[s]) sh->indices = make_buffer(home, size_t(sh->nnz) * sizeof(int32_t));
    int64_t zero = 0;
    sh->indptr->upload(&zero, sizeof zero);
    shards_.push_back(sh);
    values_.push_back(in_file_[s] ? nullptr : make_buffer(home, size_t(sh->nnz) * sizeof(float)));
  }
  std::map<int, size_t> worker_of_device;
  for (size_t s = 0; s < n; ++s) {
    int dev = p.devices[s];
    if (!worker_of_device.count(dev)) {
      worker_of_device[dev] = workers_.size();
      workers_.push_back(std::unique_ptr<Worker>(new Worker{dev, {}, {}}));
    }
    worker_of_shard_.push_back(worker_of_device[dev]);
  }
  for (auto& w : workers_) {
    Worker* raw = w.get();
    w->thread = std::thread([this, raw] { run(raw); });
  }
}

ShardBuilder::~ShardBuilder() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

void ShardBuilder::run(Worker* w) {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !w->queue.empty(); });
      if (w->queue.empty()) return;
      job = std::move(w->queue.front());
      w->queue.pop_front();
    }
    const auto t0 = std::chrono::steady_clock::now();
    try {
      ShardIndex& sh = *shards_[job.shard];
      int64_t local = job.chunk.first_row - first_row_[job.shard];
      int64_t n = job.chunk.n_rows(), nnz = int64_t(job.chunk.indices.size());
      // Row ends, shifted to the shard's numbering (row starts are the previous ends).
      std::vector<int64_t> ends(job.chunk.indptr.begin() + 1, job.chunk.indptr.end());
      for (auto& e : ends) e += job.nnz_offset;
      sh.indptr->upload(ends.data(), size_t(n) * sizeof(int64_t), size_t(local + 1) * sizeof(int64_t));
      if (!in_file_[job.shard]) {  // a shard left in its file keeps only its row pointers
        sh.indices->upload(job.chunk.indices.data(), size_t(nnz) * sizeof(int32_t),
                           size_t(job.nnz_offset) * sizeof(int32_t));
        values_[job.shard]->upload(job.chunk.values.data(), size_t(nnz) * sizeof(float),
                                   size_t(job.nnz_offset) * sizeof(float));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      upload_seconds_ += seconds;
      --pending_;
      if (spare_.size() < 2) spare_.push_back(std::move(job.chunk));
    }
    changed_.notify_all();
  }
}

void ShardBuilder::rethrow_if_failed() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (error_) std::rethrow_exception(error_);
}

void ShardBuilder::put(HostChunk chunk) {
  rethrow_if_failed();
  int64_t n = chunk.n_rows();
  CS_CHECK(n >= 0 && chunk.indptr[0] == 0, "internal: a chunk's row pointers must start at 0");
  CS_CHECK(int64_t(chunk.indices.size()) == chunk.indptr.back() &&
               chunk.values.size() == chunk.indices.size(),
           "internal: a chunk's arrays disagree");
  if (n == 0) return;
  size_t s = size_t(std::upper_bound(first_row_.begin(), first_row_.end(), chunk.first_row) -
                    first_row_.begin()) - 1;
  CS_CHECK(s < shards_.size() && chunk.first_row == first_row_[s] + rows_done_[s] &&
               chunk.first_row + n <= first_row_[s + 1],
           "internal: chunks must come in cell order within one shard");
  int64_t offset = nnz_done_[s];
  if (offset + int64_t(chunk.indices.size()) > shards_[s]->nnz)
    throw Error("the file holds more non-zeros than its row pointers announce");
  rows_done_[s] += n;
  nnz_done_[s] += int64_t(chunk.indices.size());
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return pending_ < max_pending_ || error_; });
    if (error_) std::rethrow_exception(error_);
    ++pending_;
    workers_[worker_of_shard_[s]]->queue.push_back(Job{s, std::move(chunk), offset});
  }
  changed_.notify_all();
}

double ShardBuilder::upload_seconds() {
  std::lock_guard<std::mutex> lock(mutex_);
  return upload_seconds_;
}

HostChunk ShardBuilder::spare_chunk() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (spare_.empty()) return HostChunk();
  HostChunk c = std::move(spare_.back());
  spare_.pop_back();
  return c;
}

MatrixPtr ShardBuilder::finish(const SourceFactory& sources) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return pending_ == 0; });
  }
  rethrow_if_failed();
  std::vector<HostChunk>().swap(spare_);
  for (size_t s = 0; s < shards_.size(); ++s)
    if (rows_done_[s] != shards_[s]->n_rows || nnz_done_[s] != shards_[s]->nnz)
      throw Error("the file ended before all cells were read");
  for (size_t s = 0; s < shards_.size(); ++s) {
    if (!in_file_[s]) continue;
    CS_CHECK(sources, "internal: a shard left in a file that cannot be read again");
    shards_[s]->source = sources(s, *shards_[s]);
  }
  auto index = std::make_shared<ShardedIndex>();
  index->n_cols = n_cols_;
  index->shards.assign(shards_.begin(), shards_.end());
  return std::make_shared<ShardedMatrix>(index, values_);
}

}  // namespace cellshard
