#include "synthetic_cells.h"

#include <algorithm>

#include "host_random.h"
#include "parallel_for.h"

namespace cellshard {

AtlasCells draw_atlas_cells(const AtlasOptions& o, int64_t n_cells, int64_t first_cell) {
  AtlasCells cells;
  const size_t n = size_t(n_cells);
  cells.library.resize(n);
  cells.type.resize(n);
  cells.damaged.resize(n);
  cells.table.resize(n);
  constexpr size_t kBlock = 65536;
  parallel_for((n + kBlock - 1) / kBlock, [&](size_t block) {
    const size_t end = std::min(n, (block + 1) * kBlock);
    for (size_t c = block * kBlock; c < end; ++c) {
      const uint64_t cell = uint64_t(first_cell) + c;  // numbered in the whole atlas
      const uint32_t lo = uint32_t(cell), hi = uint32_t(cell >> 32);
      const Philox4x32::Words size = host_words(o.seed, 0, lo, hi, kStreamCell);
      const Philox4x32::Words kind = host_words(o.seed, 1, lo, hi, kStreamCell);
      cells.library[c] = library_size(o, normal_from(size));
      cells.type[c] = int32_t(below(kind.w[0], uint32_t(o.n_types)));
      cells.damaged[c] = uniform_open(kind.w[1], kind.w[2]) < o.damaged_fraction;
      cells.table[c] = cells.type[c] + (cells.damaged[c] ? o.n_types : 0);
    }
  });
  return cells;
}

}  // namespace cellshard
