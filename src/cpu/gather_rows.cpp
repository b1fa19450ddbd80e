#include "gather_rows.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "../core/errors.h"
#include "../core/parallel_for.h"
#include "csr_ranges.h"

namespace cellshard {

namespace {

// Writes output row i (source row r) into cols / vals from position `at`.
// Scratch vectors are the calling thread's.
struct RowWriter {
  const CsrView& a;
  const std::vector<const float*>& values;
  const GeneMap& genes;
  const std::vector<int32_t>& column_of;  // selected_columns(genes), or empty
  int32_t* cols;               // null: the index is prebuilt
  const std::vector<float*>& vals;
  std::vector<int32_t> row_cols;
  std::vector<int64_t> src_pos, order;

  void write(int64_t r, int64_t at) {
    const int64_t begin = a.indptr[r], end = a.indptr[r + 1];
    if (genes.identity) {  // every gene once, in order: copy the row as it is
      if (cols) std::memcpy(cols + at, a.indices + begin, size_t(end - begin) * sizeof(int32_t));
      for (size_t l = 0; l < vals.size(); ++l)
        std::memcpy(vals[l] + at, values[l] + begin, size_t(end - begin) * sizeof(float));
      return;
    }
    if (!column_of.empty()) {  // a plain subset: kept entries keep their order
      for (int64_t k = begin; k < end; ++k) {
        const int32_t c = column_of[size_t(a.indices[k])];
        if (c < 0) continue;
        if (cols) cols[at] = c;
        for (size_t l = 0; l < vals.size(); ++l) vals[l][at] = values[l][k];
        ++at;
      }
      return;
    }
    const int64_t* mp = genes.map_ptr.data();
    row_cols.clear();
    src_pos.clear();
    for (int64_t k = begin; k < end; ++k) {
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
    for (size_t j = 0; j < order.size(); ++j) {
      size_t o = size_t(order[j]);
      if (cols) cols[at + int64_t(j)] = row_cols[o];
      for (size_t l = 0; l < vals.size(); ++l) vals[l][at + int64_t(j)] = values[l][src_pos[o]];
    }
  }
};

}  // namespace

GatherOutput gather_rows_on_host(const CsrView& a, const std::vector<const float*>& values,
                                 const std::vector<int64_t>& rows, const GeneMap& genes,
                                 const CsrView* prebuilt) {
  const int device = kHost;
  const int64_t n = int64_t(rows.size());
  const int64_t* mp = genes.map_ptr.data();
  GatherOutput out;
  // Output rows are independent: each piece of rows runs on a host thread.
  const size_t pieces = cpu_pieces(a.nnz / std::max<int64_t>(1, a.n_rows) * n + n, 1 << 16);

  const std::vector<int32_t> column_of =
      genes.identity ? std::vector<int32_t>() : selected_columns(genes);
  // Row pointers: from the prebuilt index, or counted here.
  std::vector<int64_t> ptr(size_t(n) + 1, 0);
  if (prebuilt) {
    CS_CHECK(prebuilt->n_rows == n, "internal: prebuilt index of the wrong size");
    std::copy(prebuilt->indptr, prebuilt->indptr + n + 1, ptr.begin());
  } else {
    parallel_ranges(size_t(n), pieces, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) {
        int64_t r = rows[i], count = 0;
        if (genes.identity) {
          count = a.indptr[r + 1] - a.indptr[r];
        } else if (!column_of.empty()) {
          for (int64_t k = a.indptr[r]; k < a.indptr[r + 1]; ++k)
            count += column_of[size_t(a.indices[k])] >= 0;
        } else {
          for (int64_t k = a.indptr[r]; k < a.indptr[r + 1]; ++k)
            count += mp[a.indices[k] + 1] - mp[a.indices[k]];
        }
        ptr[i + 1] = count;
      }
    });
    for (size_t i = 0; i < size_t(n); ++i) ptr[i + 1] += ptr[i];
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

  parallel_ranges(size_t(n), pieces, [&](size_t i0, size_t i1) {
    RowWriter writer{a, values, genes, column_of, cols, vals, {}, {}, {}};
    for (size_t i = i0; i < i1; ++i) writer.write(rows[i], ptr[i]);
  });
  return out;
}

}  // namespace cellshard
