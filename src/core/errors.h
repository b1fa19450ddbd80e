// Exceptions thrown by the core. The R glue turns each into an R condition
// with its own class, so callers can tryCatch() out-of-memory separately.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

namespace cellshard {

// Any failure the user can act on (bad input, corrupt file, bad index).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// An allocation on a device (or on the host) could not be satisfied.
class OutOfMemory : public Error {
 public:
  OutOfMemory(int device, size_t requested, size_t free_bytes, size_t total_bytes);
  int device;
  size_t requested;
  size_t free_bytes;
  size_t total_bytes;
};

// "1.25 GiB" style, for messages.
std::string format_bytes(double bytes);

}  // namespace cellshard

#define CS_CHECK(cond, msg)                                  \
  do {                                                       \
    if (!(cond)) throw ::cellshard::Error(std::string(msg)); \
  } while (0)
