// How far a long operation has got, shared between the threads that do the
// work (device threads, parallel_for workers) and the one thread that tells
// the user. Workers only touch atomics here: they never call R. The R glue
// (r_progress.h) makes one Progress current for the length of a call, reads
// it from R's main thread, and asks the workers to stop when the user
// interrupts.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "errors.h"

namespace cellshard {

// Thrown by a worker that stopped because the user interrupted.
class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted") {}
};

class Progress {
 public:
  // A new phase: `name` must be a string literal (it is kept as a pointer);
  // `total` units of work, 0 when they cannot be counted (an eigensolver).
  void phase(const char* name, int64_t total);
  void advance(int64_t units) { done_.fetch_add(units, std::memory_order_relaxed); }

  const char* phase_name() const { return phase_.load(); }
  int64_t done() const { return done_.load(std::memory_order_relaxed); }
  int64_t total() const { return total_.load(std::memory_order_relaxed); }

  void request_stop() { stop_ = true; }
  bool stop_requested() const { return stop_.load(std::memory_order_relaxed); }

  // The work's end, whether it returned or threw; wakes the reporting thread.
  void finish();
  // Waits up to `timeout` for finish(); true once the work has finished.
  bool wait_finished(std::chrono::milliseconds timeout);

 private:
  std::atomic<const char*> phase_{""};
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> total_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
};

// The Progress of the call under way, if the caller listens (else null).
// One at a time per process: R runs one call into the package at a time.
class ProgressScope {
 public:
  explicit ProgressScope(Progress* p);
  ~ProgressScope();
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

 private:
  Progress* previous_;
};

// What core loops call; each does nothing when nobody listens.
void progress_phase(const char* name, int64_t total);
void progress_advance(int64_t units);
// Throws Interrupted if the user asked to stop: call between units of work
// (shards, chunks of cells), never while holding something that must be undone.
void progress_check_stop();

}  // namespace cellshard
