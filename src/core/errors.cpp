#include "errors.h"

#include <cstdio>

namespace cellshard {

std::string format_bytes(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}

static std::string oom_message(int device, size_t requested, size_t free_bytes,
                               size_t total_bytes) {
  std::string where = device == -1   ? std::string("host memory")
                      : device == -2 ? std::string("pinned host memory (for shards kept off the GPUs)")
                                     : "GPU " + std::to_string(device);
  return "out of memory on " + where + ": needed " + format_bytes(double(requested)) +
         " more, " + format_bytes(double(free_bytes)) + " free of " +
         format_bytes(double(total_bytes)) +
         ". Free device data you no longer need (releaseDevice(), rm() then gc()), "
         "spread the cells over more devices, or use more, smaller shards.";
}

OutOfMemory::OutOfMemory(int device_, size_t requested_, size_t free_, size_t total_)
    : Error(oom_message(device_, requested_, free_, total_)),
      device(device_),
      requested(requested_),
      free_bytes(free_),
      total_bytes(total_) {}

}  // namespace cellshard
