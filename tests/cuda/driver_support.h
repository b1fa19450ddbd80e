// What the CUDA drivers (test_backend.cu, test_pipeline_kernels.cu) share:
// the tally of passed and failed checks, and a CSR shard's index (shape, row
// pointers, gene indices) on the host and its copy on a device. Each driver
// adds its own values to these.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../../src/core/backend.h"
#include "../../src/core/buffer.h"

namespace driver_support {

inline int g_passed = 0, g_failed = 0;

inline void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

// Prints "N passed, M failed"; the driver's exit status (1 on any failure).
inline int summary() {
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

struct HostIndex {
  int64_t n_rows = 0, n_cols = 0;
  std::vector<int64_t> indptr{0};
  std::vector<int32_t> indices;

  int64_t nnz() const { return indptr.back(); }
  cellshard::CsrView view() const {
    cellshard::CsrView v;
    v.device = cellshard::kHost;
    v.n_rows = n_rows;
    v.n_cols = n_cols;
    v.nnz = nnz();
    v.indptr = indptr.data();
    v.indices = indices.data();
    return v;
  }
};

struct DeviceIndex {
  cellshard::BufferPtr indptr, indices;
  cellshard::CsrView view;
};

template <class T>
cellshard::BufferPtr upload_vector(const std::vector<T>& host, int device) {
  cellshard::BufferPtr b = cellshard::make_buffer(device, host.size() * sizeof(T));
  b->upload(host.data(), b->bytes());
  return b;
}

// The index's copy on `device`, and a view of it.
inline void upload_index(const HostIndex& h, int device, DeviceIndex& d) {
  d.indptr = upload_vector(h.indptr, device);
  d.indices = upload_vector(h.indices, device);
  d.view = h.view();
  d.view.device = device;
  d.view.indptr = d.indptr->as<int64_t>();
  d.view.indices = d.indices->as<int32_t>();
}

}  // namespace driver_support
