// The per-cell parameters of the synthetic atlas: library size, cell type and
// damage, drawn on the host in float64 (so no backend's libm can change them)
// and handed to the backends as integers.
#pragma once
#include <cstdint>
#include <vector>

#include "synthetic_model.h"

namespace cellshard {

struct AtlasCells {
  std::vector<int32_t> library;  // UMIs of each cell, in [library_min, library_max]
  std::vector<int32_t> type;     // 0-based, uniform over the types
  std::vector<uint8_t> damaged;  // 1 for the damaged cells (high MT share)
  std::vector<int32_t> table;    // the model's alias table each cell draws from
};

// Cells first_cell .. first_cell + n_cells - 1 of the atlas; cell c's draws
// depend on the seed and c only, so an atlas of more cells starts with the
// same ones, and an MPI rank draws just its share, the same bits.
AtlasCells draw_atlas_cells(const AtlasOptions& options, int64_t n_cells, int64_t first_cell = 0);

}  // namespace cellshard
