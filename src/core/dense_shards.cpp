#include "dense_shards.h"

#include <algorithm>

#include "errors.h"

namespace cellshard {

int64_t DenseShards::n_rows() const {
  int64_t n = 0;
  for (const DenseShard& s : shards) n += s.n_rows;
  return n;
}

std::vector<int64_t> DenseShards::row_offsets() const {
  std::vector<int64_t> off(1, 0);
  for (const DenseShard& s : shards) off.push_back(off.back() + s.n_rows);
  return off;
}

size_t DenseShards::bytes() const {
  size_t b = 0;
  for (const DenseShard& s : shards) b += s.values ? s.values->bytes() : 0;
  return b;
}

void DenseShards::read(const std::vector<int64_t>& rows, bool all_rows,
                       const std::vector<int64_t>& cols, double* out) const {
  const std::vector<int64_t> off = row_offsets();
  const int64_t total = off.back();
  const int64_t out_rows = all_rows ? total : int64_t(rows.size());
  for (int64_t r : rows)
    if (r < 0 || r >= total) throw Error("row " + std::to_string(r + 1) + " is past the end (" +
                                         std::to_string(total) + " rows)");
  for (int64_t c : cols)
    if (c < 0 || c >= n_cols) throw Error("column " + std::to_string(c + 1) + " is past the end (" +
                                          std::to_string(n_cols) + " columns)");
  std::vector<double> segment;
  for (size_t s = 0; s < shards.size(); ++s) {
    const DenseShard& sh = shards[s];
    if (sh.n_rows == 0) continue;
    // The asked rows that fall in this shard, as (position in out, local row).
    std::vector<std::pair<int64_t, int64_t>> mine;
    int64_t lo = sh.n_rows, hi = -1;
    if (!all_rows) {
      for (size_t p = 0; p < rows.size(); ++p)
        if (rows[p] >= off[s] && rows[p] < off[s + 1]) {
          int64_t local = rows[p] - off[s];
          mine.emplace_back(int64_t(p), local);
          lo = std::min(lo, local);
          hi = std::max(hi, local);
        }
      if (mine.empty()) continue;
    }
    for (size_t j = 0; j < cols.size(); ++j) {
      const size_t column = size_t(cols[j]) * size_t(sh.n_rows) * sizeof(double);
      double* dst = out + int64_t(j) * out_rows;
      if (all_rows) {
        sh.values->download(dst + off[s], size_t(sh.n_rows) * sizeof(double), column);
        continue;
      }
      // One copy of the span of asked rows, then picked on the host.
      segment.resize(size_t(hi - lo + 1));
      sh.values->download(segment.data(), segment.size() * sizeof(double),
                          column + size_t(lo) * sizeof(double));
      for (const auto& pr : mine) dst[pr.first] = segment[size_t(pr.second - lo)];
    }
  }
}

}  // namespace cellshard
