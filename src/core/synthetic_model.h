// The model of the synthetic atlas (../shared/docs/SYNTHETIC.md): gene
// abundances, cell types, mitochondrial and silent genes, the spread sigma
// tuned to a detection target, and the per-type alias tables the backends
// draw counts from. Everything is a function of the options (seed included),
// computed on the host in float64.
#pragma once
#include <cstdint>
#include <vector>

#include "synthetic_sampling.h"

namespace cellshard {

constexpr int kMitochondrialGenes = 13;

struct AtlasOptions {
  int64_t n_genes = 45854;
  int n_types = 24;
  uint64_t seed = 1;
  // Each type perturbs this share of the genes (chosen among the expressed
  // ones) by Normal(0, perturbation_sd) on the log scale.
  double perturbed_fraction = 0.05;
  double perturbation_sd = 1.5;
  // Silent genes: this share of the genes gets `silent_probability` of the
  // UMIs each, so that a million-cell atlas detects each in about one cell
  // (mean library ~6,000 UMIs): the work of the reference gene filter.
  double silent_fraction = 0.10;
  double silent_probability = 1e-10;
  // The 13 mitochondrial genes hold these shares of UMIs together, in
  // ordinary and in damaged cells; their log-abundances spread by mt_sd.
  double mt_fraction = 0.03;
  double damaged_mt_fraction = 0.175;
  double damaged_fraction = 0.02;
  double mt_sd = 0.5;
  // Library size: round(LogNormal(log(median), sdlog)) clipped to [min, max].
  // max must stay below 65,536: the GPU histogram counts in 16 bits.
  double library_median = 5000;
  double library_sdlog = 0.6;
  int32_t library_min = 300;
  int32_t library_max = 60000;
  // sigma is tuned so that cells detect detected_target genes on average,
  // scaled down in proportion for fewer genes than reference_genes (more
  // genes keep the target: a cell detects at most its library size), within
  // [0, sigma_max]; an unreachable target gives the nearest end.
  double detected_target = 2000;
  int64_t reference_genes = 45854;
  double sigma_max = 4.0;
  int library_quadrature = 16;  // library sizes the tuning averages over
};

struct AtlasModel {
  AtlasOptions options;
  double sigma = 0;
  double target_detected = 0;    // what the tuning aimed at
  double expected_detected = 0;  // what the model gives at sigma (analytic)
  std::vector<int64_t> mt_genes;  // 0-based positions, in MT-ND1 ... MT-CYB order
  std::vector<uint8_t> silent;    // per gene
  // 2 * n_types tables of n_genes entries: table k for ordinary cells of
  // type k, table n_types + k for damaged ones.
  std::vector<AliasEntry> tables;
  int n_tables() const { return 2 * options.n_types; }
};

// Checks the options (clear errors for bad sizes) and builds the model.
AtlasModel build_atlas_model(const AtlasOptions& options);

// Fixed positions of the mitochondrial genes: spread evenly over the genes.
std::vector<int64_t> mitochondrial_positions(int64_t n_genes);

// E[detected genes] of a cell drawing from probabilities `p`, averaged over
// the (equally weighted) library sizes: sum_g 1 - (1 - p_g)^L.
double expected_detected(const std::vector<double>& p, const std::vector<double>& libraries);

// The library size of a cell whose standard normal draw is z.
int32_t library_size(const AtlasOptions& options, double z);

// Library sizes at the midpoints of `n` equal-probability slices of the
// library-size distribution: a fixed quadrature for the tuning of sigma.
std::vector<double> library_quadrature(const AtlasOptions& options, int n);

}  // namespace cellshard
