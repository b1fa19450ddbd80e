// The per-cell sampling step of the synthetic atlas, shared by the CPU and
// CUDA backends so that both draw the same bits: which Philox counter feeds
// which draw of which cell, and one categorical draw from a Walker alias
// table. Integer-only, so host and device can never round differently.
#pragma once
#include <cstdint>

#include "philox.h"

namespace cellshard {

// One column of an alias table: keep the column's own gene when the second
// random word is below `threshold`, else take `alias`. Columns that need no
// alias have alias == their own gene, so either branch gives it.
struct alignas(8) AliasEntry {
  uint32_t threshold;
  uint32_t alias;
};

// The last counter word names what a stream is for, so streams never overlap.
enum SyntheticStream : uint32_t {
  kStreamGeneBase = 0x67656E65u,     // per-gene base abundance and role
  kStreamTypeProfile = 0x74797065u,  // per-type perturbations
  kStreamCell = 0x63656C6Cu,         // per-cell library size, type, damage
  kStreamCounts = 0x636F756Eu,       // per-cell UMI draws
};

// Draws 2 * pair and 2 * pair + 1 of cell `cell`: one Philox block gives the
// two random words of each of two draws. Depends only on the seed and the
// cell's number in the atlas, never on the shard or device that draws it.
CS_HOST_DEVICE inline Philox4x32::Words count_draw_words(uint64_t seed, uint64_t cell,
                                                         uint32_t pair) {
  Philox4x32::Words ctr{{pair, uint32_t(cell), uint32_t(cell >> 32), kStreamCounts}};
  return Philox4x32::generate(ctr, uint32_t(seed), uint32_t(seed >> 32));
}

// Number of Philox blocks a cell of `library` UMIs uses.
CS_HOST_DEVICE inline uint32_t count_draw_pairs(uint32_t library) { return (library + 1u) / 2u; }

// One gene from the table of n_genes columns: a uniform column from r1
// (the high word of r1 * n_genes, no division), then the coin r2.
CS_HOST_DEVICE inline uint32_t alias_draw(const AliasEntry* __restrict__ table, uint32_t n_genes,
                                          uint32_t r1, uint32_t r2) {
  const uint32_t column = uint32_t((uint64_t(r1) * n_genes) >> 32);
  const AliasEntry e = table[column];
  return r2 < e.threshold ? column : e.alias;
}

}  // namespace cellshard
