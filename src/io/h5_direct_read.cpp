#include "h5_direct_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "../core/parallel_for.h"
#include "h5_file.h"

namespace cellshard {
namespace h5 {

// The stored element types read without conversion (little-endian hosts only).
enum class Stored { Other, Int32, Int64, Float32, Float64 };

template <class T> Stored stored_code() { return Stored::Other; }
template <> Stored stored_code<int32_t>() { return Stored::Int32; }
template <> Stored stored_code<int64_t>() { return Stored::Int64; }
template <> Stored stored_code<float>() { return Stored::Float32; }
template <> Stored stored_code<double>() { return Stored::Float64; }

struct DirectPlan {
  enum class Storage { None, Contiguous, Chunked };
  Storage storage = Storage::None;
  Stored stored = Stored::Other;
  size_t elem = 0;
  haddr_t address = 0;   // contiguous: file offset of entry 0
  hsize_t chunk = 0;     // chunked: entries per chunk
  bool deflate = false;  // chunked: deflate is the one filter
  int fd = -1;
  off_t file_size = 0;
  ~DirectPlan() {
    if (fd >= 0) ::close(fd);
  }
};

static Stored stored_type(hid_t dset) {
  Handle t(H5Dget_type(dset));
  if (!t.valid()) return Stored::Other;
  if (H5Tequal(t.get(), H5T_STD_I32LE) > 0) return Stored::Int32;
  if (H5Tequal(t.get(), H5T_STD_I64LE) > 0) return Stored::Int64;
  if (H5Tequal(t.get(), H5T_IEEE_F32LE) > 0) return Stored::Float32;
  if (H5Tequal(t.get(), H5T_IEEE_F64LE) > 0) return Stored::Float64;
  return Stored::Other;
}

static bool disabled_by_environment() {
  const char* env = std::getenv("CELLSHARD_H5_DIRECT");
  return env && std::strcmp(env, "0") == 0;
}

// Works out the plan; Storage::None whenever anything is unusual.
static std::shared_ptr<const DirectPlan> make_plan(const Dataset& ds) {
  auto p = std::make_shared<DirectPlan>();
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (disabled_by_environment() || ds.rank() != 1) return p;
  p->stored = stored_type(ds.id());
  if (p->stored == Stored::Other) return p;
  p->elem = ds.type().size;
  // The file must be one plain file (the default driver) without a user
  // block, so that HDF5's addresses are offsets into it.
  Handle fapl(H5Fget_access_plist(ds.file().id()));
  Handle fcpl(H5Fget_create_plist(ds.file().id()));
  hsize_t userblock = 1;
  if (!fapl.valid() || !fcpl.valid() || H5Pget_driver(fapl.get()) != H5FD_SEC2 ||
      H5Pget_userblock(fcpl.get(), &userblock) < 0 || userblock != 0)
    return p;
  Handle dcpl(H5Dget_create_plist(ds.id()));
  if (!dcpl.valid() || H5Pget_external_count(dcpl.get()) != 0) return p;
  H5D_layout_t layout = H5Pget_layout(dcpl.get());
  DirectPlan::Storage storage = DirectPlan::Storage::None;
  if (layout == H5D_CONTIGUOUS) {
    p->address = H5Dget_offset(ds.id());
    if (p->address == HADDR_UNDEF) return p;  // never written: HDF5 gives fill values
    storage = DirectPlan::Storage::Contiguous;
  } else if (layout == H5D_CHUNKED) {
    const ChunkLayout c = chunk_layout(dcpl.get());
    // HDF5 caps chunks at 4 GiB; a damaged header could claim more, and each
    // thread holds a chunk, so large ones are left to HDF5.
    if (c.entries == 0 || c.entries > (hsize_t(64) << 20) / p->elem) return p;
    // No filter, or deflate alone.
    if (c.n_filters != 0 && !c.deflate_only) return p;
    p->chunk = c.entries;
    p->deflate = c.deflate_only;
    storage = DirectPlan::Storage::Chunked;
  } else {
    return p;
  }
  p->fd = ::open(ds.file().path().c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (p->fd < 0 || fstat(p->fd, &st) != 0) return p;
  p->file_size = st.st_size;
  p->storage = storage;
#else
  (void)ds;
#endif
  return p;
}

// Reads `bytes` at file offset `at` into dst, failing clearly on a short read.
static void read_bytes(const Dataset& ds, const DirectPlan& p, char* dst, size_t bytes,
                       uint64_t at) {
  if (at > uint64_t(p.file_size) || bytes > uint64_t(p.file_size) - at)
    ds.fail("cannot read dataset '" + ds.name() + "': its data lies past the end of the file "
            "(truncated or corrupt file?)");
  while (bytes > 0) {
    ssize_t got = ::pread(p.fd, dst, std::min<size_t>(bytes, size_t(1) << 30), off_t(at));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      ds.fail("cannot read dataset '" + ds.name() + "' (" +
              (got < 0 ? std::string(std::strerror(errno)) : std::string("end of file")) +
              "; truncated or corrupt file?)");
    dst += got;
    at += uint64_t(got);
    bytes -= size_t(got);
  }
}

// Below this many bytes a read stays on the calling thread.
static const size_t kParallelBytes = size_t(4) << 20;

static void read_contiguous(const Dataset& ds, const DirectPlan& p, char* out, hsize_t offset,
                            hsize_t count) {
  const size_t bytes = size_t(count) * p.elem;
  const uint64_t at = uint64_t(p.address) + uint64_t(offset) * p.elem;
  const size_t pieces = std::max<size_t>(1, bytes / kParallelBytes);
  parallel_ranges(bytes, pieces, [&](size_t a, size_t b) { read_bytes(ds, p, out + a, b - a, at + a); });
}

const DirectPlan& direct_plan(const Dataset& ds);

struct ChunkAt {
  haddr_t address;
  hsize_t size;
  bool filtered;
};

// Returns false (nothing read) when a chunk of the range was never written.
static bool read_chunked(const Dataset& ds, const DirectPlan& p, char* out, hsize_t offset,
                         hsize_t count) {
  const hsize_t first = offset / p.chunk, last = (offset + count - 1) / p.chunk;
  std::vector<ChunkAt> where;
  where.reserve(size_t(last - first + 1));
  // HDF5 calls stay on this thread: where each chunk is and whether it was filtered.
  for (hsize_t c = first; c <= last; ++c) {
    hsize_t coord = c * p.chunk, size = 0;
    unsigned mask = 0;
    haddr_t address = HADDR_UNDEF;
    if (H5Dget_chunk_info_by_coord(ds.id(), &coord, &mask, &address, &size) < 0 ||
        address == HADDR_UNDEF)
      return false;
    where.push_back(ChunkAt{address, size, p.deflate && (mask & 1u) == 0});
  }
  const size_t chunk_bytes = size_t(p.chunk) * p.elem;
  const unsigned threads = count * p.elem < kParallelBytes ? 1u : 0u;
  parallel_for(where.size(), [&](size_t i) {
    const ChunkAt& w = where[i];
    const hsize_t start = (first + hsize_t(i)) * p.chunk;
    const hsize_t a = std::max(start, offset), b = std::min(start + p.chunk, offset + count);
    char* dst = out + size_t(a - offset) * p.elem;
    const size_t skip = size_t(a - start) * p.elem, want = size_t(b - a) * p.elem;
    if (!w.filtered) {
      if (w.size != chunk_bytes)
        ds.fail("a chunk of dataset '" + ds.name() + "' has " + std::to_string(w.size) +
                " bytes, expected " + std::to_string(chunk_bytes) + " (corrupt file?)");
      read_bytes(ds, p, dst, want, uint64_t(w.address) + skip);
      return;
    }
    if (w.size > uint64_t(p.file_size))
      ds.fail("a chunk of dataset '" + ds.name() + "' claims " + std::to_string(w.size) +
              " bytes, more than the file holds (truncated or corrupt file?)");
    thread_local std::vector<char> packed, unpacked;
    packed.resize(size_t(w.size));
    read_bytes(ds, p, packed.data(), packed.size(), uint64_t(w.address));
    // A chunk wholly inside the range inflates straight into place.
    const bool whole = want == chunk_bytes;
    if (!whole) unpacked.resize(chunk_bytes);
    char* into = whole ? dst : unpacked.data();
    uLongf n = uLongf(chunk_bytes);
    int rc = uncompress(reinterpret_cast<Bytef*>(into), &n,
                        reinterpret_cast<const Bytef*>(packed.data()), uLong(packed.size()));
    if (rc != Z_OK || n != chunk_bytes)
      ds.fail("cannot read dataset '" + ds.name() + "': a gzip chunk does not inflate to " +
              std::to_string(chunk_bytes) + " bytes (zlib: " + (zError(rc) ? zError(rc) : "?") +
              "; truncated or corrupt file?)");
    if (!whole) std::memcpy(dst, unpacked.data() + skip, want);
  }, threads);
  return true;
}

// Reads the stored bytes of entries [offset, offset + count) into `bytes`.
static bool read_stored(const Dataset& ds, const DirectPlan& p, char* bytes, hsize_t offset,
                        hsize_t count) {
  if (p.storage == DirectPlan::Storage::Contiguous) {
    read_contiguous(ds, p, bytes, offset, count);
    return true;
  }
  return read_chunked(ds, p, bytes, offset, count);
}

// The conversions done here rather than by HDF5, with HDF5's results: C casts
// between numbers (float64 too large for float32 gives infinity) and integers
// clipped to the range of the narrower type (which the readers then reject).
template <class T, class S>
static void convert(const S* in, T* out, size_t n) {
  parallel_ranges(n, std::max<size_t>(1, n >> 20), [&](size_t a, size_t b) {
    for (size_t k = a; k < b; ++k) {
      if constexpr (std::is_integral<T>::value && std::is_integral<S>::value) {
        const int64_t v = int64_t(in[k]);
        const int64_t lo = int64_t(std::numeric_limits<T>::min()),
                      hi = int64_t(std::numeric_limits<T>::max());
        out[k] = T(v < lo ? lo : v > hi ? hi : v);
      } else {
        out[k] = T(in[k]);
      }
    }
  });
}

template <class T, class S>
static bool read_converted(const Dataset& ds, const DirectPlan& p, T* out, hsize_t offset,
                           hsize_t count) {
  std::vector<S> stored(static_cast<size_t>(count));
  if (!read_stored(ds, p, reinterpret_cast<char*>(stored.data()), offset, count)) return false;
  convert(stored.data(), out, stored.size());
  return true;
}

// The stored types read for each type asked for: the same type, and the
// conversions the readers meet (count matrices of int32 or float64 values,
// int64 indices) read as float32 values, int32 indices and int64 pointers.
template <class T>
static bool read_any(const Dataset& ds, const DirectPlan& p, T* out, hsize_t offset,
                     hsize_t count) {
  if (p.stored == stored_code<T>())
    return read_stored(ds, p, reinterpret_cast<char*>(out), offset, count);
  if (std::is_same<T, float>::value) {
    if (p.stored == Stored::Int32) return read_converted<T, int32_t>(ds, p, out, offset, count);
    if (p.stored == Stored::Int64) return read_converted<T, int64_t>(ds, p, out, offset, count);
    if (p.stored == Stored::Float64) return read_converted<T, double>(ds, p, out, offset, count);
  }
  if (std::is_same<T, int32_t>::value && p.stored == Stored::Int64)
    return read_converted<T, int64_t>(ds, p, out, offset, count);
  if (std::is_same<T, int64_t>::value && p.stored == Stored::Int32)
    return read_converted<T, int32_t>(ds, p, out, offset, count);
  return false;
}

template <class T>
bool read_direct(const Dataset& ds, T* out, hsize_t offset, hsize_t count) {
  if (stored_code<T>() == Stored::Other || count == 0) return false;
  const DirectPlan& p = direct_plan(ds);
  if (p.storage == DirectPlan::Storage::None) return false;
  if (offset + count < offset || offset + count > ds.dims()[0])
    ds.fail("internal: read past the end of dataset '" + ds.name() + "'");
  return read_any(ds, p, out, offset, count);
}

const DirectPlan& direct_plan(const Dataset& ds) {
  if (!ds.direct_) ds.direct_ = make_plan(ds);
  return *ds.direct_;
}

template <class T>
bool reads_contiguous(const Dataset& ds) {
  if (stored_code<T>() == Stored::Other) return false;
  const DirectPlan& p = direct_plan(ds);
  return p.storage == DirectPlan::Storage::Contiguous && p.stored == stored_code<T>();
}

#define CS_DIRECT_INSTANTIATE(T) \
  template bool read_direct<T>(const Dataset&, T*, hsize_t, hsize_t); \
  template bool reads_contiguous<T>(const Dataset&);
CS_DIRECT_INSTANTIATE(int8_t)
CS_DIRECT_INSTANTIATE(int16_t)
CS_DIRECT_INSTANTIATE(int32_t)
CS_DIRECT_INSTANTIATE(int64_t)
CS_DIRECT_INSTANTIATE(uint8_t)
CS_DIRECT_INSTANTIATE(uint16_t)
CS_DIRECT_INSTANTIATE(uint32_t)
CS_DIRECT_INSTANTIATE(uint64_t)
CS_DIRECT_INSTANTIATE(float)
CS_DIRECT_INSTANTIATE(double)
#undef CS_DIRECT_INSTANTIATE

}  // namespace h5
}  // namespace cellshard
