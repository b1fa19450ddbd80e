#include "write_back.h"

#include "backend.h"
#include "shard_stream.h"

namespace cellshard {

namespace {

// Fresh pinned memory, one buffer at a time: each is faulted in on every host
// thread already, and several at once only oversubscribe them (measured on
// the H200 machine, the budgeted filter of bench/out_of_core.R: 4.9 s with a
// pinning per waiting result at once, 2.7 s one at a time).
BufferPtr pin_in_turn(size_t bytes) {
  static std::mutex turn;
  std::lock_guard<std::mutex> lock(turn);
  return make_buffer(kPinned, bytes);
}

}  // namespace

WriteBack::WriteBack(size_t max_waiting_per_device) : max_waiting_(max_waiting_per_device) {}

WriteBack::~WriteBack() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& entry : lanes_)
    if (entry.second.worker.joinable()) entry.second.worker.join();
}

void WriteBack::put(BufferPtr b, BufferPtr* slot) {
  if (!b || is_host_memory(b->device())) {
    *slot = to_pinned(b);  // host memory (the CPU backend): a plain copy, no link
    return;
  }
  const int device = b->device();
  std::unique_lock<std::mutex> lock(mutex_);
  Lane& lane = lanes_[device];
  changed_.wait(lock, [&] { return lane.jobs.size() + lane.busy < max_waiting_ || error_; });
  if (error_) return;  // finish() reports it
  const size_t bytes = b->bytes();
  lane.jobs.push_back({std::move(b), slot, std::async(std::launch::async, [bytes] {
                         return pin_in_turn(bytes);
                       })});
  if (!lane.worker.joinable()) lane.worker = std::thread([this, device] { work(device); });
  changed_.notify_all();
}

void WriteBack::work(int device) {
  std::unique_lock<std::mutex> lock(mutex_);
  Lane& lane = lanes_[device];
  for (;;) {
    changed_.wait(lock, [&] { return !lane.jobs.empty() || stopping_; });
    if (lane.jobs.empty()) return;
    Job job = std::move(lane.jobs.front());
    lane.jobs.pop_front();
    ++lane.busy;
    lock.unlock();
    std::exception_ptr failed;
    try {
      BufferPtr pinned = job.pinned.get();
      backend_for(device).download_beside(pinned->data(), job.buffer->data(), device,
                                          job.buffer->bytes());
      count_written_back(double(job.buffer->bytes()));
      job.buffer.reset();  // the device memory, once copied
      *job.slot = std::move(pinned);
    } catch (...) {
      failed = std::current_exception();
    }
    lock.lock();
    --lane.busy;
    if (failed && !error_) error_ = failed;
    changed_.notify_all();
  }
}

void WriteBack::finish() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] {
    for (auto& entry : lanes_)
      if (!entry.second.jobs.empty() || entry.second.busy) return false;
    return true;
  });
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

}  // namespace cellshard
