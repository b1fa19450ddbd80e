// RAII ownership of HDF5 identifiers, and the one switch that keeps HDF5 from
// printing its error stack: every failure is reported through cellshard::Error.
#pragma once
#include <hdf5.h>

#include <string>

namespace cellshard {
namespace h5 {

// Owns one hid_t (file, group, dataset, dataspace, datatype, attribute or
// property list) and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes the identifier now (never throws).
  void reset() noexcept;
  // Gives up ownership without closing; returns the identifier.
  hid_t release() noexcept {
    hid_t id = id_;
    id_ = -1;
    return id;
  }

 private:
  hid_t id_ = -1;
};

// Turns off HDF5's automatic printing of error stacks (idempotent, cheap).
void silence_errors();

// The most specific message on HDF5's current error stack ("" when empty).
std::string last_error_message();

}  // namespace h5
}  // namespace cellshard
