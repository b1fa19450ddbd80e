#include "synthetic_atlas.h"

#include <mutex>
#include <string>

#include "../cpu/cpu_synthetic.h"
#include "backend.h"
#include "errors.h"
#include "operations.h"
#include "progress.h"
#include "shard_stream.h"
#include "synthetic_shard.h"
#ifdef CELLSHARD_CUDA
#include "../cuda/cuda_synthetic.h"
#endif

namespace cellshard {

namespace {

bool same_options(const AtlasOptions& a, const AtlasOptions& b) {
  return a.n_genes == b.n_genes && a.n_types == b.n_types && a.seed == b.seed &&
         a.perturbed_fraction == b.perturbed_fraction && a.perturbation_sd == b.perturbation_sd &&
         a.silent_fraction == b.silent_fraction && a.silent_probability == b.silent_probability &&
         a.mt_fraction == b.mt_fraction && a.damaged_mt_fraction == b.damaged_mt_fraction &&
         a.damaged_fraction == b.damaged_fraction && a.mt_sd == b.mt_sd &&
         a.library_median == b.library_median && a.library_sdlog == b.library_sdlog &&
         a.library_min == b.library_min && a.library_max == b.library_max &&
         a.detected_target == b.detected_target && a.reference_genes == b.reference_genes &&
         a.sigma_max == b.sigma_max && a.library_quadrature == b.library_quadrature;
}

AtlasShard generate_atlas_shard(const AtlasShardJob& job) {
  check_atlas_shard_job(job);
  if (job.device == kHost) return generate_atlas_shard_on_host(job);
#ifdef CELLSHARD_CUDA
  return generate_atlas_shard_on_device(job);
#else
  throw_no_cuda_backend(job.device);
#endif
}

// Refuses at once what a device cannot draw (a GPU's shared memory).
void check_atlas_fits(int device, int64_t n_genes) {
  if (device == kHost) return;
#ifdef CELLSHARD_CUDA
  check_atlas_fits_device(device, n_genes);
#else
  throw_no_cuda_backend(device);
#endif
}

}  // namespace

void check_atlas_shard_job(const AtlasShardJob& job) {
  CS_CHECK(job.n_cells >= 0 && job.first_cell >= 0 && job.n_genes > 0 && job.n_genes <= 2147483647,
           "internal: synthetic shard of bad size");
  CS_CHECK(job.n_tables > 0 && job.tables && (job.n_cells == 0 || (job.library && job.table)),
           "internal: synthetic shard without its tables");
  for (int64_t c = 0; c < job.n_cells; ++c) {
    CS_CHECK(job.table[c] >= 0 && job.table[c] < job.n_tables,
             "internal: synthetic cell with a bad table number");
    CS_CHECK(job.library[c] >= 1 && job.library[c] <= 65535,
             "internal: synthetic library size outside 1..65535");
  }
}

std::shared_ptr<ShardIndex> new_atlas_shard_index(const AtlasShardJob& job) {
  auto idx = std::make_shared<ShardIndex>();
  idx->device = job.device;
  idx->n_rows = job.n_cells;
  idx->n_cols = job.n_genes;
  idx->indptr = make_buffer(job.device, size_t(job.n_cells + 1) * sizeof(int64_t));
  return idx;
}

std::shared_ptr<const AtlasModel> atlas_model(const AtlasOptions& options) {
  static std::mutex mutex;
  static std::shared_ptr<const AtlasModel> last;
  std::lock_guard<std::mutex> lock(mutex);
  if (!last || !same_options(last->options, options))
    last = std::make_shared<const AtlasModel>(build_atlas_model(options));
  return last;
}

SyntheticAtlas generate_atlas(const AtlasOptions& options, int64_t n_cells,
                              const Placement& placement, int64_t first_cell) {
  CS_CHECK(n_cells >= 1, "the synthetic atlas needs at least one cell");
  const size_t n_shards = placement.rows.size();
  CS_CHECK(n_shards >= 1 && placement.devices.size() == n_shards, "internal: bad placement");
  std::vector<int64_t> first(n_shards + 1, 0);
  for (size_t s = 0; s < n_shards; ++s) {
    CS_CHECK(placement.rows[s] >= 0, "internal: a shard of negative size");
    first[s + 1] = first[s] + placement.rows[s];
  }
  CS_CHECK(first[n_shards] == n_cells, "the shard sizes add up to " + std::to_string(first[n_shards]) +
                                           " cells, but the atlas has " + std::to_string(n_cells));

  for (int device : placement.devices) check_atlas_fits(device, options.n_genes);

  SyntheticAtlas atlas;
  progress_phase("tuning the model", 0);
  atlas.model = atlas_model(options);
  atlas.cells = draw_atlas_cells(options, n_cells, first_cell);
  const AtlasModel& model = *atlas.model;

  progress_phase("drawing the counts", n_cells);

  std::vector<AtlasShard> shards(n_shards);
  for_each_shard(placement.devices, [&](size_t s) {
    AtlasShardJob job;
    job.device = placement.devices[s];
    job.seed = options.seed;
    job.first_cell = first_cell + first[s];
    job.n_cells = placement.rows[s];
    job.n_genes = options.n_genes;
    job.library = atlas.cells.library.data() + first[s];
    job.table = atlas.cells.table.data() + first[s];
    job.tables = model.tables.data();
    job.n_tables = model.n_tables();
    shards[s] = generate_atlas_shard(job);
    // Over the device's budget, the shard goes to pinned host memory (out of core).
    settle_shard(*shards[s].index, {&shards[s].values});
    // The host backend counts its cells as it draws them; a GPU's shard takes
    // a fraction of a second, so it counts when done.
    if (job.device != kHost) progress_advance(job.n_cells);
  });

  auto index = std::make_shared<ShardedIndex>();
  index->n_cols = options.n_genes;
  std::vector<BufferPtr> values;
  for (auto& sh : shards) {
    index->shards.push_back(sh.index);
    values.push_back(sh.values);
  }
  atlas.matrix = std::make_shared<ShardedMatrix>(index, values);
  return atlas;
}

}  // namespace cellshard
