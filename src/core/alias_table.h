// Walker alias tables (in Vose's stable form) for drawing from a categorical
// distribution in O(1): built once on the host in float64, stored as 32-bit
// integer thresholds so that the draws themselves need no floating point.
#pragma once
#include <vector>

#include "synthetic_sampling.h"

namespace cellshard {

// The table of `weights` (non-negative, not all zero; normalised here): entry
// j keeps j with probability threshold / 2^32 and otherwise gives alias.
// The probability of each category is then exact to about 2^-32 / n.
std::vector<AliasEntry> build_alias_table(const std::vector<double>& weights);

}  // namespace cellshard
