// Per-phase seconds of a GPU routine, for benchmarks: add_to(total) adds the
// seconds since the last mark. Off unless asked for (an environment variable
// or an option), because each phase then ends by waiting for the stream.
#pragma once
#include <chrono>
#include <cstdlib>

#include "device_context.h"

namespace cellshard {

class PhaseClock {
 public:
  PhaseClock(const DeviceContext& ctx, bool on)
      : ctx_(ctx), on_(on), mark_(std::chrono::steady_clock::now()) {}
  // On when the environment variable `name` is set.
  PhaseClock(const DeviceContext& ctx, const char* name)
      : PhaseClock(ctx, std::getenv(name) != nullptr) {}

  void add_to(double& total) {
    if (!on_) return;
    synchronize(ctx_);
    const auto now = std::chrono::steady_clock::now();
    total += std::chrono::duration<double>(now - mark_).count();
    mark_ = now;
  }

 private:
  const DeviceContext& ctx_;
  bool on_;
  std::chrono::steady_clock::time_point mark_;
};

}  // namespace cellshard
