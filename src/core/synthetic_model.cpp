#include "synthetic_model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "alias_table.h"
#include "errors.h"
#include "host_random.h"
#include "parallel_for.h"

namespace cellshard {

namespace {

// The tuning of sigma averages over at most this many types: types are
// exchangeable draws, so more would only cost time.
constexpr int kTuningTypes = 32;

void check_options(const AtlasOptions& o) {
  CS_CHECK(o.n_genes > kMitochondrialGenes,
           "the synthetic atlas needs at least 14 genes (13 of them mitochondrial)");
  CS_CHECK(o.n_genes <= 2147483647, "the synthetic atlas holds at most 2^31 - 1 genes");
  CS_CHECK(o.n_types >= 1 && o.n_types <= 1000, "the number of cell types must lie in 1..1000");
  CS_CHECK(o.library_min >= 1 && o.library_min <= o.library_max && o.library_max < 65536,
           "internal: library sizes must lie in 1..65535");
  CS_CHECK(o.mt_fraction >= 0 && o.damaged_mt_fraction >= 0 && o.mt_fraction < 1 &&
               o.damaged_mt_fraction < 1,
           "internal: mitochondrial shares must lie in [0, 1)");
}

// Chooses `m` members of `pool`, in the order drawn: a partial Fisher-Yates
// shuffle whose i-th swap reads the counter (i, b, c, stream).
std::vector<int64_t> choose(std::vector<int64_t> pool, size_t m, uint64_t seed, uint32_t b,
                            uint32_t c, uint32_t stream) {
  m = std::min(m, pool.size());
  for (size_t i = 0; i < m; ++i) {
    const uint32_t left = uint32_t(pool.size() - i);
    const size_t j = i + below(host_words(seed, uint32_t(i), b, c, stream).w[0], left);
    std::swap(pool[i], pool[j]);
  }
  pool.resize(m);
  return pool;
}

// Inverse of the standard normal distribution function, by bisection: slow,
// but deterministic to double precision, and needed for 16 points only.
double normal_quantile(double q) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200 && lo < hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi) break;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// The gene-level draws that sigma and the MT share then turn into probabilities.
struct GeneDraws {
  std::vector<double> z;                // base log-abundance / sigma
  std::vector<int64_t> expressed;       // neither mitochondrial nor silent
  std::vector<double> mt_weight;        // shares within the MT genes (sum 1)
  // per type: (gene, log-scale perturbation)
  std::vector<std::vector<std::pair<int64_t, double>>> perturbed;
  int64_t n_silent = 0;
};

GeneDraws draw_genes(const AtlasOptions& o, AtlasModel& model) {
  const int64_t G = o.n_genes;
  GeneDraws d;
  d.z.resize(size_t(G));
  parallel_for(size_t(G + 4095) / 4096, [&](size_t block) {
    const int64_t end = std::min<int64_t>(G, int64_t(block + 1) * 4096);
    for (int64_t g = int64_t(block) * 4096; g < end; ++g)
      d.z[size_t(g)] = normal_from(host_words(o.seed, uint32_t(g), 0, 0, kStreamGeneBase));
  });

  model.mt_genes = mitochondrial_positions(G);
  std::vector<uint8_t> is_mt(size_t(G), 0);
  for (int64_t g : model.mt_genes) is_mt[size_t(g)] = 1;
  double mt_total = 0;
  for (int64_t g : model.mt_genes) {
    d.mt_weight.push_back(std::exp(o.mt_sd * d.z[size_t(g)]));
    mt_total += d.mt_weight.back();
  }
  for (double& w : d.mt_weight) w /= mt_total;

  std::vector<int64_t> others;
  for (int64_t g = 0; g < G; ++g)
    if (!is_mt[size_t(g)]) others.push_back(g);
  // At least one gene stays expressed, whatever the share.
  const size_t n_silent = std::min(others.size() - 1, size_t(std::llround(o.silent_fraction * double(G))));
  model.silent.assign(size_t(G), 0);
  for (int64_t g : choose(others, n_silent, o.seed, 1, 0, kStreamGeneBase)) model.silent[size_t(g)] = 1;
  d.n_silent = int64_t(n_silent);
  for (int64_t g : others)
    if (!model.silent[size_t(g)]) d.expressed.push_back(g);

  const size_t n_perturbed = size_t(std::llround(o.perturbed_fraction * double(G)));
  d.perturbed.resize(size_t(o.n_types));
  parallel_for(size_t(o.n_types), [&](size_t k) {
    std::vector<int64_t> genes = choose(d.expressed, n_perturbed, o.seed, uint32_t(k), 0, kStreamTypeProfile);
    for (size_t i = 0; i < genes.size(); ++i) {
      double delta = o.perturbation_sd * normal_from(host_words(o.seed, uint32_t(i), uint32_t(k), 1,
                                                                kStreamTypeProfile));
      d.perturbed[k].emplace_back(genes[i], delta);
    }
  });
  return d;
}

// The probabilities of type k's cells at spread `sigma` when the MT genes
// hold `mt_share` of the UMIs: softmax over the expressed genes of
// sigma * z_g + perturbation, scaled to what MT and silent genes leave.
std::vector<double> type_profile(const AtlasOptions& o, const GeneDraws& d,
                                 const AtlasModel& model, size_t k, double sigma, double mt_share) {
  std::vector<double> log_w(size_t(o.n_genes), 0.0);
  for (int64_t g : d.expressed) log_w[size_t(g)] = sigma * d.z[size_t(g)];
  for (const auto& gp : d.perturbed[k]) log_w[size_t(gp.first)] += gp.second;
  double top = -INFINITY;
  for (int64_t g : d.expressed) top = std::max(top, log_w[size_t(g)]);
  std::vector<double> p(size_t(o.n_genes), 0.0);
  double total = 0;
  for (int64_t g : d.expressed) {
    p[size_t(g)] = std::exp(log_w[size_t(g)] - top);
    total += p[size_t(g)];
  }
  const double expressed_share = 1.0 - mt_share - double(d.n_silent) * o.silent_probability;
  for (int64_t g : d.expressed) p[size_t(g)] *= expressed_share / total;
  for (size_t i = 0; i < model.mt_genes.size(); ++i)
    p[size_t(model.mt_genes[i])] = mt_share * d.mt_weight[i];
  for (int64_t g = 0; g < o.n_genes; ++g)
    if (model.silent[size_t(g)]) p[size_t(g)] = o.silent_probability;
  return p;
}

// Mean expected detected genes of ordinary cells at `sigma`, over the types
// (at most kTuningTypes of them), summed in type order.
double mean_detected(const AtlasOptions& o, const GeneDraws& d, const AtlasModel& model,
                     double sigma, const std::vector<double>& libraries) {
  const size_t n = size_t(std::min(o.n_types, kTuningTypes));
  std::vector<double> per_type(n);
  parallel_for(n, [&](size_t k) {
    per_type[k] = expected_detected(type_profile(o, d, model, k, sigma, o.mt_fraction), libraries);
  });
  double sum = 0;
  for (double x : per_type) sum += x;
  return sum / double(n);
}

}  // namespace

std::vector<int64_t> mitochondrial_positions(int64_t n_genes) {
  std::vector<int64_t> pos;
  for (int i = 0; i < kMitochondrialGenes; ++i)
    pos.push_back(int64_t((2 * i + 1) * n_genes / (2 * kMitochondrialGenes)));
  return pos;
}

int32_t library_size(const AtlasOptions& o, double z) {
  const double l = std::round(std::exp(std::log(o.library_median) + o.library_sdlog * z));
  return int32_t(std::min<double>(o.library_max, std::max<double>(o.library_min, l)));
}

std::vector<double> library_quadrature(const AtlasOptions& o, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i)
    out.push_back(double(library_size(o, normal_quantile((i + 0.5) / n))));
  return out;
}

double expected_detected(const std::vector<double>& p, const std::vector<double>& libraries) {
  double sum = 0;
  for (double pg : p) {
    if (pg <= 0) continue;
    const double log_miss = std::log1p(-pg);
    for (double l : libraries) sum -= std::expm1(l * log_miss);
  }
  return sum / double(libraries.size());
}

AtlasModel build_atlas_model(const AtlasOptions& o) {
  check_options(o);
  AtlasModel model;
  model.options = o;
  GeneDraws d = draw_genes(o, model);

  // Bisection on sigma: more spread concentrates the UMIs on fewer genes,
  // so the expected number of detected genes falls as sigma grows.
  const std::vector<double> libraries = library_quadrature(o, o.library_quadrature);
  model.target_detected = o.detected_target * std::min(1.0, double(o.n_genes) / double(o.reference_genes));
  auto detected_at = [&](double s) { return mean_detected(o, d, model, s, libraries); };
  double lo = 0, hi = o.sigma_max;
  if (detected_at(lo) <= model.target_detected) {
    hi = lo;
  } else if (detected_at(hi) >= model.target_detected) {
    lo = hi;  // unreachable target (few genes): the most spread allowed
  } else {
    while (hi - lo > 1e-5) {
      const double mid = 0.5 * (lo + hi);
      (detected_at(mid) > model.target_detected ? lo : hi) = mid;
    }
  }
  model.sigma = 0.5 * (lo + hi);
  model.expected_detected = detected_at(model.sigma);

  // Tables: ordinary cells of each type, then damaged cells of each type.
  const size_t G = size_t(o.n_genes), K = size_t(o.n_types);
  model.tables.resize(2 * K * G);
  parallel_for(2 * K, [&](size_t t) {
    const size_t k = t % K;
    const double mt = t < K ? o.mt_fraction : o.damaged_mt_fraction;
    std::vector<AliasEntry> table = build_alias_table(type_profile(o, d, model, k, model.sigma, mt));
    std::copy(table.begin(), table.end(), model.tables.begin() + std::ptrdiff_t(t * G));
  });
  return model;
}

}  // namespace cellshard
