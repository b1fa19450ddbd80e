#include "progress.h"

namespace cellshard {

namespace {
std::atomic<Progress*> current{nullptr};
}

void Progress::phase(const char* name, int64_t total) {
  // The counts first, so a reader that sees the new name sees its counts.
  done_ = 0;
  total_ = total;
  phase_ = name;
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
  finished_cv_.notify_all();
}

bool Progress::wait_finished(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return finished_cv_.wait_for(lock, timeout, [this] { return finished_; });
}

ProgressScope::ProgressScope(Progress* p) : previous_(current.exchange(p)) {}
ProgressScope::~ProgressScope() { current = previous_; }

void progress_phase(const char* name, int64_t total) {
  if (Progress* p = current.load()) p->phase(name, total);
}

void progress_advance(int64_t units) {
  if (Progress* p = current.load()) p->advance(units);
}

void progress_check_stop() {
  Progress* p = current.load();
  if (p && p->stop_requested()) throw Interrupted();
}

}  // namespace cellshard
