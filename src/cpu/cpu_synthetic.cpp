#include "cpu_synthetic.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "../core/errors.h"
#include "../core/parallel_for.h"
#include "../core/progress.h"

namespace cellshard {

namespace {

constexpr int64_t kCellsPerChunk = 512;

// The rows of consecutive cells, drawn by one thread.
struct CellChunk {
  std::vector<int64_t> row_nnz;
  std::vector<int32_t> indices;
  std::vector<float> values;
};

// Per-gene counts of one cell and a bitmap of the genes it touched; both are
// all zero again after each cell (only touched entries are cleared).
struct CellScratch {
  explicit CellScratch(int64_t n_genes)
      : counts(size_t(n_genes), 0), touched(size_t(n_genes + 63) / 64, 0) {}
  std::vector<uint16_t> counts;  // libraries stay below 65,536
  std::vector<uint64_t> touched;

  void add(uint32_t gene) {
    if (counts[gene]++ == 0) touched[gene >> 6] |= uint64_t(1) << (gene & 63);
  }
};

// Draws one cell's UMIs and appends its row (genes in increasing order).
void draw_cell(const AtlasShardJob& job, int64_t local, CellScratch& s, CellChunk& out) {
  const uint64_t cell = uint64_t(job.first_cell + local);
  const uint32_t library = uint32_t(job.library[local]);
  const uint32_t n_genes = uint32_t(job.n_genes);
  const AliasEntry* table = job.tables + size_t(job.table[local]) * size_t(n_genes);
  const uint32_t pairs = count_draw_pairs(library);
  for (uint32_t p = 0; p < pairs; ++p) {
    const Philox4x32::Words x = count_draw_words(job.seed, cell, p);
    s.add(alias_draw(table, n_genes, x.w[0], x.w[1]));
    if (2 * p + 1 < library) s.add(alias_draw(table, n_genes, x.w[2], x.w[3]));
  }
  const size_t before = out.indices.size();
  for (size_t w = 0; w < s.touched.size(); ++w) {
    for (uint64_t m = s.touched[w]; m; m &= m - 1) {
      const uint32_t gene = uint32_t(w * 64 + size_t(__builtin_ctzll(m)));
      out.indices.push_back(int32_t(gene));
      out.values.push_back(float(s.counts[gene]));
      s.counts[gene] = 0;
    }
    s.touched[w] = 0;
  }
  out.row_nnz.push_back(int64_t(out.indices.size() - before));
}

}  // namespace

AtlasShard generate_atlas_shard_on_host(const AtlasShardJob& job) {
  const int64_t n = job.n_cells;
  const size_t n_chunks = size_t((n + kCellsPerChunk - 1) / kCellsPerChunk);
  std::vector<CellChunk> chunks(n_chunks);
  parallel_for(n_chunks, [&](size_t k) {
    progress_check_stop();  // an interrupt stops the draw between chunks
    CellScratch scratch(job.n_genes);
    const int64_t begin = int64_t(k) * kCellsPerChunk, end = std::min(n, begin + kCellsPerChunk);
    for (int64_t c = begin; c < end; ++c) draw_cell(job, c, scratch, chunks[k]);
    progress_advance(end - begin);
  });

  // Row pointers, then each chunk's entries copied to their place.
  AtlasShard shard;
  auto& idx = shard.index = new_atlas_shard_index(job);
  int64_t* indptr = idx->indptr->as<int64_t>();
  std::vector<int64_t> chunk_start(n_chunks + 1, 0);
  indptr[0] = 0;
  int64_t row = 0;
  for (size_t k = 0; k < n_chunks; ++k) {
    for (int64_t r : chunks[k].row_nnz) {
      indptr[row + 1] = indptr[row] + r;
      ++row;
    }
    chunk_start[k + 1] = indptr[row];
  }
  CS_CHECK(row == n, "internal: synthetic chunks lost cells");
  idx->nnz = indptr[n];
  idx->indices = make_buffer(kHost, size_t(idx->nnz) * sizeof(int32_t));
  shard.values = make_buffer(kHost, size_t(idx->nnz) * sizeof(float));
  parallel_for(n_chunks, [&](size_t k) {
    CellChunk& c = chunks[k];
    const size_t at = size_t(chunk_start[k]);
    if (!c.indices.empty()) {
      std::memcpy(idx->indices->as<int32_t>() + at, c.indices.data(), c.indices.size() * sizeof(int32_t));
      std::memcpy(shard.values->as<float>() + at, c.values.data(), c.values.size() * sizeof(float));
    }
    c = CellChunk();  // frees the chunk now
  });
  return shard;
}

}  // namespace cellshard
