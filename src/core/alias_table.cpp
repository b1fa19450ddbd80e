#include "alias_table.h"

#include <cmath>

#include "errors.h"

namespace cellshard {

namespace {

// A probability in [0, 1] as a threshold on a uniform 32-bit word; 1 (and
// anything rounding to 2^32) becomes the largest word, whose alias is itself.
uint32_t to_threshold(double prob) {
  const double scaled = std::floor(prob * 4294967296.0);
  return scaled >= 4294967295.0 ? 0xFFFFFFFFu : scaled <= 0 ? 0u : uint32_t(scaled);
}

}  // namespace

std::vector<AliasEntry> build_alias_table(const std::vector<double>& weights) {
  const size_t n = weights.size();
  CS_CHECK(n > 0 && n <= 0xFFFFFFFFu, "internal: alias table of bad size");
  double total = 0;
  for (double w : weights) {
    CS_CHECK(w >= 0 && std::isfinite(w), "internal: alias table weight is not a probability");
    total += w;
  }
  CS_CHECK(total > 0, "internal: alias table weights are all zero");

  // Scaled so that the mean column holds exactly 1; columns under 1 are
  // topped up from columns over 1 (Vose: small and large stacks).
  std::vector<double> scaled(n);
  std::vector<uint32_t> small, large;
  for (size_t j = 0; j < n; ++j) {
    scaled[j] = weights[j] * double(n) / total;
    (scaled[j] < 1.0 ? small : large).push_back(uint32_t(j));
  }
  std::vector<AliasEntry> table(n);
  for (size_t j = 0; j < n; ++j) table[j] = AliasEntry{0xFFFFFFFFu, uint32_t(j)};
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back(), l = large.back();
    small.pop_back();
    table[s] = AliasEntry{to_threshold(scaled[s]), l};
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What is left holds 1 up to rounding: it keeps its own column.
  return table;
}

}  // namespace cellshard
