#include "h5_handle.h"

namespace cellshard {
namespace h5 {

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = -1;
  }
  return *this;
}

void Handle::reset() noexcept {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
  }
  id_ = -1;
}

void silence_errors() {
  // Per thread in thread-safe builds of HDF5, so it is called before each file
  // is opened rather than once per process.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

static herr_t keep_first(unsigned n, const H5E_error2_t* err, void* data) {
  // The walk goes from the innermost call outwards: the first entry says
  // what actually went wrong (e.g. "can't open object", "filter not found").
  auto* out = static_cast<std::string*>(data);
  if (n == 0 && err && err->desc) *out = err->desc;
  return 0;
}

std::string last_error_message() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_first, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

}  // namespace h5
}  // namespace cellshard
