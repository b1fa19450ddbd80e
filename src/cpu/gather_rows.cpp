#include "gather_rows.h"

#include <algorithm>
#include <numeric>

#include "../core/errors.h"

namespace cellshard {

GatherOutput gather_rows_on_host(const CsrView& a, const std::vector<const float*>& values,
                                 const std::vector<int64_t>& rows, const GeneMap& genes,
                                 const CsrView* prebuilt) {
  const int device = kHost;
  const int64_t n = int64_t(rows.size());
  const int64_t* mp = genes.map_ptr.data();
  GatherOutput out;

  // Row pointers: from the prebuilt index, or counted here.
  std::vector<int64_t> ptr(size_t(n) + 1, 0);
  if (prebuilt) {
    CS_CHECK(prebuilt->n_rows == n, "internal: prebuilt index of the wrong size");
    std::copy(prebuilt->indptr, prebuilt->indptr + n + 1, ptr.begin());
  } else {
    for (int64_t i = 0; i < n; ++i) {
      int64_t r = rows[size_t(i)], count = 0;
      for (int64_t k = a.indptr[r]; k < a.indptr[r + 1]; ++k)
        count += mp[a.indices[k] + 1] - mp[a.indices[k]];
      ptr[size_t(i) + 1] = ptr[size_t(i)] + count;
    }
  }
  out.nnz = ptr[size_t(n)];

  int32_t* cols = nullptr;
  if (!prebuilt) {
    out.indptr = make_buffer(device, ptr.size() * sizeof(int64_t));
    out.indptr->upload(ptr.data(), ptr.size() * sizeof(int64_t));
    out.indices = make_buffer(device, size_t(out.nnz) * sizeof(int32_t));
    cols = out.indices->as<int32_t>();
  }
  std::vector<float*> vals;
  for (size_t l = 0; l < values.size(); ++l) {
    out.values.push_back(make_buffer(device, size_t(out.nnz) * sizeof(float)));
    vals.push_back(out.values.back()->as<float>());
  }

  std::vector<int32_t> row_cols;
  std::vector<int64_t> src_pos, order;
  for (int64_t i = 0; i < n; ++i) {
    int64_t r = rows[size_t(i)];
    row_cols.clear();
    src_pos.clear();
    for (int64_t k = a.indptr[r]; k < a.indptr[r + 1]; ++k) {
      int32_t g = a.indices[k];
      for (int64_t m = mp[g]; m < mp[g + 1]; ++m) {
        row_cols.push_back(genes.out_cols[size_t(m)]);
        src_pos.push_back(k);
      }
    }
    order.resize(row_cols.size());
    std::iota(order.begin(), order.end(), int64_t(0));
    if (!genes.monotone)
      std::sort(order.begin(), order.end(),
                [&](int64_t x, int64_t y) { return row_cols[size_t(x)] < row_cols[size_t(y)]; });
    int64_t at = ptr[size_t(i)];
    for (size_t j = 0; j < order.size(); ++j) {
      size_t o = size_t(order[j]);
      if (cols) cols[at + int64_t(j)] = row_cols[o];
      for (size_t l = 0; l < vals.size(); ++l) vals[l][at + int64_t(j)] = values[l][src_pos[o]];
    }
  }
  return out;
}

}  // namespace cellshard
