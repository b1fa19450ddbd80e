// Results that a streaming pass makes on a device and that have no room there
// go to pinned host memory (out of core, core/shard_stream.h). Taking fresh
// pinned memory (faulting it in, registering it) and the copy over the link
// take as long as the pass's kernels or longer, so they run beside the pass
// as it goes on to its next shards: each result's pinned memory is taken on
// a thread of its own as soon as the result is put (fresh pinned memory is
// the slowest part: faulting pages in runs at host memory speed), and a
// helper thread per device copies results out in order on a stream of their
// own (the other direction's copy engine). At most a few results wait on
// each device, so the device holds a bounded number of them.
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "buffer.h"

namespace cellshard {

class WriteBack {
 public:
  explicit WriteBack(size_t max_waiting_per_device = 4);
  ~WriteBack();  // waits for what was put (errors then go unreported: call finish())
  WriteBack(const WriteBack&) = delete;
  WriteBack& operator=(const WriteBack&) = delete;

  // Later, *slot = a copy of b in pinned host memory (b as it is when it is
  // null or already host memory), and b's device memory is freed. Nothing
  // else may touch *slot until finish(). Blocks while the device has
  // max_waiting buffers waiting. Safe to call from several threads.
  void put(BufferPtr b, BufferPtr* slot);

  // Waits until every buffer put is in place; rethrows the first error.
  void finish();

 private:
  struct Job {
    BufferPtr buffer;
    BufferPtr* slot;
    std::future<BufferPtr> pinned;  // taken as soon as the job is put, beside earlier copies
  };
  struct Lane {
    std::deque<Job> jobs;
    size_t busy = 0;  // jobs taken but not done
    std::thread worker;
  };
  void work(int device);

  const size_t max_waiting_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int, Lane> lanes_;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace cellshard
