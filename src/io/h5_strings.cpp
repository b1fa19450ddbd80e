#include "h5_strings.h"

#include <cstdint>
#include <cstring>

#include "h5_handle.h"

namespace cellshard {
namespace h5 {

static bool read_variable_length(hid_t file_type, size_t n,
                                 const std::function<herr_t(hid_t, void*)>& read,
                                 std::vector<std::string>* out) {
  Handle mem(H5Tcopy(H5T_C_S1));
  if (!mem.valid() || H5Tset_size(mem.get(), H5T_VARIABLE) < 0 ||
      H5Tset_cset(mem.get(), H5Tget_cset(file_type)) < 0)
    return false;
  std::vector<char*> ptrs(n, nullptr);
  if (read(mem.get(), ptrs.data()) < 0) return false;
  out->resize(n);
  for (size_t i = 0; i < n; ++i)
    (*out)[i] = ptrs[i] ? std::string(ptrs[i]) : std::string();  // a null pointer reads as ""
  // Frees what HDF5 allocated for each string.
  hsize_t dim = n;
  Handle space(H5Screate_simple(1, &dim, nullptr));
  if (n > 0 && space.valid()) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#else
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#endif
  }
  return true;
}

static bool read_fixed_length(hid_t file_type, size_t n,
                              const std::function<herr_t(hid_t, void*)>& read,
                              std::vector<std::string>* out) {
  size_t len = H5Tget_size(file_type);
  if (len == 0) return false;
  Handle mem(H5Tcopy(H5T_C_S1));
  // NULLPAD keeps all `len` characters (NULLTERM would sacrifice the last).
  if (!mem.valid() || H5Tset_size(mem.get(), len) < 0 ||
      H5Tset_strpad(mem.get(), H5T_STR_NULLPAD) < 0 ||
      H5Tset_cset(mem.get(), H5Tget_cset(file_type)) < 0)
    return false;
  std::vector<char> buf(n * len + 1, 0);
  if (n > 0 && read(mem.get(), buf.data()) < 0) return false;
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const char* s = buf.data() + i * len;
    (*out)[i] = std::string(s, strnlen(s, len));
  }
  return true;
}

bool read_string_elements(hid_t file_type, size_t n,
                          const std::function<herr_t(hid_t, void*)>& read,
                          std::vector<std::string>* out) {
  htri_t variable = H5Tis_variable_str(file_type);
  if (variable < 0) return false;
  return variable ? read_variable_length(file_type, n, read, out)
                  : read_fixed_length(file_type, n, read, out);
}

template <class T>
void convert_raw_integers(const unsigned char* raw, size_t n, size_t size, bool is_signed,
                          T* out) {
  for (size_t i = 0; i < n; ++i) {
    const unsigned char* p = raw + i * size;
    switch (size) {
      case 1: out[i] = is_signed ? T(*reinterpret_cast<const int8_t*>(p)) : T(*p); break;
      case 2: {
        int16_t s; uint16_t u;
        std::memcpy(&s, p, 2); std::memcpy(&u, p, 2);
        out[i] = is_signed ? T(s) : T(u);
        break;
      }
      case 4: {
        int32_t s; uint32_t u;
        std::memcpy(&s, p, 4); std::memcpy(&u, p, 4);
        out[i] = is_signed ? T(s) : T(u);
        break;
      }
      default: {
        int64_t s; uint64_t u;
        std::memcpy(&s, p, 8); std::memcpy(&u, p, 8);
        out[i] = is_signed ? T(s) : T(u);
        break;
      }
    }
  }
}

template void convert_raw_integers<int8_t>(const unsigned char*, size_t, size_t, bool, int8_t*);
template void convert_raw_integers<int16_t>(const unsigned char*, size_t, size_t, bool, int16_t*);
template void convert_raw_integers<int32_t>(const unsigned char*, size_t, size_t, bool, int32_t*);
template void convert_raw_integers<int64_t>(const unsigned char*, size_t, size_t, bool, int64_t*);
template void convert_raw_integers<uint8_t>(const unsigned char*, size_t, size_t, bool, uint8_t*);
template void convert_raw_integers<uint16_t>(const unsigned char*, size_t, size_t, bool, uint16_t*);
template void convert_raw_integers<uint32_t>(const unsigned char*, size_t, size_t, bool, uint32_t*);
template void convert_raw_integers<uint64_t>(const unsigned char*, size_t, size_t, bool, uint64_t*);
template void convert_raw_integers<float>(const unsigned char*, size_t, size_t, bool, float*);
template void convert_raw_integers<double>(const unsigned char*, size_t, size_t, bool, double*);

}  // namespace h5
}  // namespace cellshard
