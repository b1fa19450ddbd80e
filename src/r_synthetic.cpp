// Rcpp glue for the synthetic atlas generator (core/synthetic_atlas.h).
// Orientation: the core draws cells x genes; R sees genes x cells.
#include <Rcpp.h>

#include <algorithm>
#include <cmath>

#include "core/memory_budget.h"
#include "core/philox.h"
#include "core/progress.h"
#include "core/synthetic_atlas.h"
#include "r_handle.h"
#include "r_host_vector.h"
#include "r_progress.h"

using namespace cellshard;

namespace {

// n_shards near-equal shards of cells, or the given sizes; round-robin on devices.
Placement atlas_placement(int64_t n_cells, const std::vector<int>& devices, int n_shards,
                          const Rcpp::NumericVector& shard_cells) {
  if (shard_cells.size() == 0) {
    if (n_shards < 1) throw Error("the number of shards must be at least 1");
    if (int64_t(n_shards) > n_cells)
      throw Error("simulateAtlas: " + std::to_string(n_shards) + " shards for " +
                  std::to_string(n_cells) + " cells; each shard needs at least one cell");
    return even_placement(n_cells, devices, size_t(n_shards));
  }
  Placement p;
  for (R_xlen_t s = 0; s < shard_cells.size(); ++s) {
    double c = shard_cells[s];
    if (!(c >= 1) || c != std::floor(c)) throw Error("shard sizes must be positive whole numbers");
    p.rows.push_back(int64_t(c));
    p.devices.push_back(devices[size_t(s) % devices.size()]);
  }
  return p;
}

Rcpp::List model_parameters(const AtlasModel& m) {
  const AtlasOptions& o = m.options;
  return Rcpp::List::create(
      Rcpp::_["sigma"] = m.sigma, Rcpp::_["target_detected"] = m.target_detected,
      Rcpp::_["expected_detected"] = m.expected_detected,
      Rcpp::_["perturbed_fraction"] = o.perturbed_fraction,
      Rcpp::_["perturbation_sd"] = o.perturbation_sd, Rcpp::_["silent_fraction"] = o.silent_fraction,
      Rcpp::_["silent_probability"] = o.silent_probability, Rcpp::_["mt_fraction"] = o.mt_fraction,
      Rcpp::_["damaged_mt_fraction"] = o.damaged_mt_fraction,
      Rcpp::_["damaged_fraction"] = o.damaged_fraction, Rcpp::_["mt_sd"] = o.mt_sd,
      Rcpp::_["library_median"] = o.library_median, Rcpp::_["library_sdlog"] = o.library_sdlog,
      Rcpp::_["library_range"] = Rcpp::IntegerVector::create(o.library_min, o.library_max),
      Rcpp::_["detected_target"] = o.detected_target,
      Rcpp::_["reference_genes"] = double(o.reference_genes), Rcpp::_["sigma_max"] = o.sigma_max);
}

}  // namespace

// Draws cells first_cell + 1 .. first_cell + n_cells (1-based) of the
// synthetic atlas onto the devices: list(handle, library, type (1-based),
// damaged, mt_genes (1-based), nnz, model). `progress`: NULL, or an R
// function(phase, done, total) (r_progress.h).
// [[Rcpp::export]]
Rcpp::List cs_simulate_atlas(double n_cells, double n_genes, double seed, int n_types,
                             Rcpp::IntegerVector devices, int n_shards,
                             Rcpp::NumericVector shard_cells, double first_cell = 0,
                             SEXP progress = R_NilValue) {
  CS_R_BEGIN
  AtlasOptions o;
  o.n_genes = int64_t(n_genes);
  o.n_types = n_types;
  o.seed = uint64_t(int64_t(seed));  // negative seeds wrap around, as in two's complement
  std::vector<int> devs = devices_from_r(devices);
  SyntheticAtlas atlas;
  run_with_progress(progress, [&] {
    int shards = n_shards;
    if (shard_cells.size() == 0 && n_shards >= 1) {
      // Over the devices' budget the atlas is cut into shards that can stream
      // (core/memory_budget.h); its size, from the model's expected detected genes.
      progress_phase("tuning the model", 0);
      double per_cell = atlas_model(o)->expected_detected * 8.0 + 8.0;
      size_t wanted = shards_for_budget(size_t(n_shards), n_cells * per_cell, devs.front(),
                                        devs.size());
      // More shards only when the atlas must stream, and never more than its cells.
      if (wanted > size_t(n_shards)) shards = int(std::min<double>(n_cells, double(wanted)));
    }
    Placement place = atlas_placement(int64_t(n_cells), devs, shards, shard_cells);
    atlas = generate_atlas(o, int64_t(n_cells), place, int64_t(first_cell));
  });
  const AtlasCells& c = atlas.cells;
  // The per-cell columns in C++ memory, outside R's heap (r_host_vector.h),
  // as the QC columns: the filter gathers them on host threads.
  HostInts type(c.type.begin(), c.type.end());
  for (int& t : type) t += 1;
  HostInts damaged(c.damaged.begin(), c.damaged.end());
  Rcpp::RObject type_r = host_ints(std::move(type));  // RObject: protected from here on
  Rcpp::RObject damaged_r = host_logicals(std::move(damaged));
  Rcpp::RObject library_r = host_ints(HostInts(c.library.begin(), c.library.end()));
  Rcpp::IntegerVector mt(atlas.model->mt_genes.begin(), atlas.model->mt_genes.end());
  for (R_xlen_t i = 0; i < mt.size(); ++i) mt[i] += 1;
  SEXP handle = PROTECT(wrap_matrix(atlas.matrix));
  Rcpp::List out = Rcpp::List::create(
      Rcpp::_["handle"] = handle,
      Rcpp::_["library"] = library_r, Rcpp::_["type"] = type_r, Rcpp::_["damaged"] = damaged_r,
      Rcpp::_["mt_genes"] = mt,
      Rcpp::_["nnz"] = double(atlas.matrix->nnz()), Rcpp::_["model"] = model_parameters(*atlas.model));
  UNPROTECT(1);
  return out;
  CS_R_END
}

// One Philox4x32-10 block (for tests against the published known answers):
// counter of 4 and key of 2 words given as doubles; the 4 output words.
// [[Rcpp::export]]
Rcpp::NumericVector cs_philox4x32(Rcpp::NumericVector counter, Rcpp::NumericVector key) {
  if (counter.size() != 4 || key.size() != 2) Rcpp::stop("counter needs 4 words and key 2");
  Philox4x32::Words ctr{{uint32_t(counter[0]), uint32_t(counter[1]), uint32_t(counter[2]),
                         uint32_t(counter[3])}};
  Philox4x32::Words out = Philox4x32::generate(ctr, uint32_t(key[0]), uint32_t(key[1]));
  return Rcpp::NumericVector::create(out.w[0], out.w[1], out.w[2], out.w[3]);
}
