// The synthetic atlas generator (../shared/docs/SYNTHETIC.md): draws the
// model and the cells on the host, then has each shard's backend draw its
// cells' counts straight into device memory. The same options give the same
// matrix whatever the backend, devices and sharding.
#pragma once
#include <cstdint>
#include <memory>

#include "sharded_matrix.h"
#include "synthetic_cells.h"
#include "synthetic_model.h"

namespace cellshard {

struct SyntheticAtlas {
  MatrixPtr matrix;  // cells x genes counts
  AtlasCells cells;
  std::shared_ptr<const AtlasModel> model;
};

// Cells first_cell .. first_cell + n_cells - 1 of the atlas (all of it when
// first_cell is 0 and n_cells the atlas's size; an MPI rank draws its share);
// `placement` cuts them into shards (rows must add up).
SyntheticAtlas generate_atlas(const AtlasOptions& options, int64_t n_cells,
                              const Placement& placement, int64_t first_cell = 0);

// The model for `options`. The last one built is kept, as it depends on the
// options only and its tuning costs seconds for 45,854 genes.
std::shared_ptr<const AtlasModel> atlas_model(const AtlasOptions& options);

}  // namespace cellshard
