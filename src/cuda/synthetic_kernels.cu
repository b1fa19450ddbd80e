// The synthetic atlas on a GPU: one thread block per cell (grid-stride over
// cells). The block's threads share the cell's UMI draws and count them in a
// shared-memory histogram of 16-bit counts, two genes per 32-bit word, with a
// bitmap of the genes touched; reading the bitmap in order gives each row's
// genes sorted, with no sort. Every entry is cleared by the thread that
// reads it, so the histogram is zero again for the block's next cell.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <string>
#include <vector>

#include "../core/buffer.h"
#include "../core/errors.h"
#include "cuda_check.h"
#include "cuda_synthetic.h"
#include "device_context.h"

namespace cellshard {

namespace {

constexpr int kSynthThreads = 512;

struct SynthArgs {
  int64_t n_cells;
  uint64_t first_cell;
  uint64_t seed;
  uint32_t n_genes;
  const int32_t* __restrict__ library;
  const int32_t* __restrict__ table_of_cell;
  const AliasEntry* __restrict__ tables;
  int64_t* __restrict__ row_nnz;         // counting pass: n_cells entries
  const int64_t* __restrict__ indptr;    // writing pass: n_cells + 1 entries
  int32_t* __restrict__ indices;         // writing pass
  float* __restrict__ values;            // writing pass
  unsigned int* __restrict__ mismatch;   // writing pass: rows whose size differs
};

__host__ __device__ constexpr uint32_t histogram_words(uint32_t n_genes) { return (n_genes + 1) / 2; }
__host__ __device__ constexpr uint32_t bitmap_words(uint32_t n_genes) { return (n_genes + 31) / 32; }

// Adds one UMI of `gene`; the thread whose increment finds the count at
// zero marks the gene as touched.
__device__ __forceinline__ void count_umi(uint32_t* hist, uint32_t* bits, uint32_t gene) {
  const uint32_t shift = (gene & 1u) << 4;
  const uint32_t old = atomicAdd(&hist[gene >> 1], 1u << shift);
  if (((old >> shift) & 0xFFFFu) == 0) atomicOr(&bits[gene >> 5], 1u << (gene & 31u));
}

__device__ __forceinline__ uint32_t count_of(const uint32_t* hist, uint32_t gene) {
  return (hist[gene >> 1] >> ((gene & 1u) << 4)) & 0xFFFFu;
}

// Zeroes the histogram words of the genes of bitmap word w, and the word.
// Both genes of a histogram word lie in the same bitmap word, so the thread
// that owns bitmap word w is the only one that touches them here.
__device__ __forceinline__ void clear_word(uint32_t* hist, uint32_t* bits, uint32_t w) {
  for (uint32_t m = bits[w]; m; m &= m - 1) hist[(w * 32 + uint32_t(__ffs(int(m)) - 1)) >> 1] = 0;
  bits[w] = 0;
}

// Counting pass (kWrite false): row_nnz[c] = genes detected in cell c.
// Writing pass (kWrite true): the row's sorted genes and counts at indptr[c].
template <bool kWrite>
__global__ void __launch_bounds__(kSynthThreads, 2) synth_cells_kernel(SynthArgs a) {
  extern __shared__ uint32_t smem[];
  using BlockScan = cub::BlockScan<int, kSynthThreads>;
  using BlockReduce = cub::BlockReduce<int, kSynthThreads>;
  __shared__ union {
    typename BlockScan::TempStorage scan;
    typename BlockReduce::TempStorage reduce;
  } temp;

  const uint32_t n_hist = histogram_words(a.n_genes), n_bits = bitmap_words(a.n_genes);
  uint32_t* hist = smem;
  uint32_t* bits = smem + n_hist;
  for (uint32_t i = threadIdx.x; i < n_hist + n_bits; i += kSynthThreads) smem[i] = 0;
  __syncthreads();

  for (int64_t c = blockIdx.x; c < a.n_cells; c += gridDim.x) {
    const uint64_t cell = a.first_cell + uint64_t(c);
    const uint32_t library = uint32_t(a.library[c]);
    const AliasEntry* table = a.tables + size_t(a.table_of_cell[c]) * a.n_genes;
    const uint32_t pairs = count_draw_pairs(library);
    for (uint32_t p = threadIdx.x; p < pairs; p += kSynthThreads) {
      const Philox4x32::Words x = count_draw_words(a.seed, cell, p);
      count_umi(hist, bits, alias_draw(table, a.n_genes, x.w[0], x.w[1]));
      if (2 * p + 1 < library) count_umi(hist, bits, alias_draw(table, a.n_genes, x.w[2], x.w[3]));
    }
    __syncthreads();

    if (!kWrite) {
      int mine = 0;
      for (uint32_t w = threadIdx.x; w < n_bits; w += kSynthThreads) {
        mine += __popc(bits[w]);
        clear_word(hist, bits, w);
      }
      const int total = BlockReduce(temp.reduce).Sum(mine);
      if (threadIdx.x == 0) a.row_nnz[c] = total;
    } else {
      // Rounds of kSynthThreads consecutive bitmap words: a block-wide scan
      // of their popcounts places each word's genes, so neighbouring threads
      // write neighbouring entries.
      const int64_t end = a.indptr[c + 1];
      int64_t out = a.indptr[c];
      for (uint32_t base = 0; base < n_bits; base += kSynthThreads) {
        const uint32_t w = base + threadIdx.x;
        const uint32_t mask = w < n_bits ? bits[w] : 0u;
        int before = 0, round_total = 0;
        BlockScan(temp.scan).ExclusiveSum(__popc(mask), before, round_total);
        int64_t k = out + before;
        for (uint32_t m = mask; m; m &= m - 1, ++k) {
          const uint32_t gene = w * 32 + uint32_t(__ffs(int(m)) - 1);
          if (k < end) {
            a.indices[k] = int32_t(gene);
            a.values[k] = float(count_of(hist, gene));
          }
        }
        if (w < n_bits) clear_word(hist, bits, w);
        out += round_total;
        __syncthreads();  // the scan's storage is reused by the next round
      }
      if (threadIdx.x == 0 && out != end) atomicAdd(a.mismatch, 1u);
    }
    __syncthreads();  // histogram clear before the next cell's draws
  }
}

size_t dynamic_shared_bytes(uint32_t n_genes) {
  return size_t(histogram_words(n_genes) + bitmap_words(n_genes)) * sizeof(uint32_t);
}

template <bool kWrite>
size_t static_shared_bytes() {
  cudaFuncAttributes attr;
  CS_CUDA_CHECK(cudaFuncGetAttributes(&attr, synth_cells_kernel<kWrite>));
  return attr.sharedSizeBytes;
}

// Throws when a block's histogram of n_genes genes does not fit the GPU's
// shared memory (the opt-in maximum per block).
void check_shared_memory(const DeviceContext& ctx, uint32_t n_genes) {
  int optin = 0;
  CS_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, ctx.device));
  const size_t fixed = std::max(static_shared_bytes<false>(), static_shared_bytes<true>());
  const size_t need = dynamic_shared_bytes(n_genes) + fixed;
  if (need <= size_t(optin)) return;
  const size_t bits_per_gene = 2 * 8 + 1;  // a 16-bit count and one bitmap bit
  const size_t max_genes = size_t(optin) > fixed ? (size_t(optin) - fixed) * 8 / bits_per_gene : 0;
  throw Error("simulateAtlas: " + std::to_string(n_genes) + " genes need " +
              format_bytes(double(need)) + " of shared memory per thread block, but GPU " +
              std::to_string(ctx.device) + " allows " + format_bytes(double(optin)) + " (about " +
              std::to_string(max_genes) + " genes at most); use fewer genes or devices = \"cpu\"");
}

// Allows the kernel its dynamic shared memory and returns how many blocks
// to launch (as many as fit on the GPU at once, at most one per cell).
template <bool kWrite>
unsigned int prepare_launch(const DeviceContext& ctx, uint32_t n_genes, int64_t n_cells) {
  const size_t dynamic = dynamic_shared_bytes(n_genes);
  CS_CUDA_CHECK(cudaFuncSetAttribute(synth_cells_kernel<kWrite>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, int(dynamic)));
  int per_sm = 0;
  CS_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, synth_cells_kernel<kWrite>,
                                                              kSynthThreads, dynamic));
  CS_CHECK(per_sm >= 1, "internal: the synthetic atlas kernel cannot run on GPU " +
                            std::to_string(ctx.device));
  return unsigned(std::min<int64_t>(n_cells, int64_t(ctx.sm_count) * per_sm));
}

template <class T>
BufferPtr upload(int device, const T* host, size_t count) {
  BufferPtr b = make_buffer(device, std::max<size_t>(1, count) * sizeof(T));
  if (count) b->upload(host, count * sizeof(T));
  return b;
}

// Row pointers from the per-row counts (n + 1 entries, the last 0): an
// exclusive prefix sum in 64 bits. Returns the number of non-zeros.
int64_t scan_row_pointers(const DeviceContext& ctx, const int64_t* counts, int64_t* indptr,
                          int64_t n) {
  size_t temp_bytes = 0;
  CS_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, temp_bytes, counts, indptr, n + 1, ctx.stream));
  BufferPtr temp = make_buffer(ctx.device, std::max<size_t>(temp_bytes, 1));
  CS_CUDA_CHECK(
      cub::DeviceScan::ExclusiveSum(temp->data(), temp_bytes, counts, indptr, n + 1, ctx.stream));
  int64_t nnz = 0;
  CS_CUDA_CHECK(cudaMemcpyAsync(&nnz, indptr + n, sizeof(int64_t), cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);  // before `temp` is freed, and for nnz
  return nnz;
}

}  // namespace

void check_atlas_fits_device(int device, int64_t n_genes) {
  CS_CHECK(n_genes > 0 && n_genes <= 2147483647, "internal: synthetic atlas of bad size");
  check_shared_memory(use_device(device), uint32_t(n_genes));
}

AtlasShard generate_atlas_shard_on_device(const AtlasShardJob& job) {
  const int device = job.device;
  const int64_t n = job.n_cells;
  const uint32_t n_genes = uint32_t(job.n_genes);
  const DeviceContext& ctx = use_device(device);
  check_shared_memory(ctx, n_genes);

  AtlasShard shard;
  auto& idx = shard.index = new_atlas_shard_index(job);
  if (n == 0) {
    CS_CUDA_CHECK(cudaMemsetAsync(idx->indptr->data(), 0, sizeof(int64_t), ctx.stream));
    synchronize(ctx);
    return shard;
  }
  const unsigned int blocks_count = prepare_launch<false>(ctx, n_genes, n);
  const unsigned int blocks_write = prepare_launch<true>(ctx, n_genes, n);
  const size_t shared = dynamic_shared_bytes(n_genes);

  SynthArgs a{};
  a.n_cells = n;
  a.first_cell = uint64_t(job.first_cell);
  a.seed = job.seed;
  a.n_genes = n_genes;
  BufferPtr tables = upload(device, job.tables, size_t(job.n_tables) * size_t(n_genes));
  BufferPtr library = upload(device, job.library, size_t(n));
  BufferPtr table_of_cell = upload(device, job.table, size_t(n));
  a.tables = tables->as<AliasEntry>();
  a.library = library->as<int32_t>();
  a.table_of_cell = table_of_cell->as<int32_t>();

  {
    BufferPtr row_nnz = make_buffer(device, size_t(n + 1) * sizeof(int64_t));
    CS_CUDA_CHECK(cudaMemsetAsync(row_nnz->data(), 0, row_nnz->bytes(), ctx.stream));
    a.row_nnz = row_nnz->as<int64_t>();
    synth_cells_kernel<false><<<blocks_count, kSynthThreads, shared, ctx.stream>>>(a);
    CS_CUDA_CHECK_LAUNCH("synth_cells_kernel<count>");
    idx->nnz = scan_row_pointers(ctx, row_nnz->as<int64_t>(), idx->indptr->as<int64_t>(), n);
    a.row_nnz = nullptr;
  }  // the counts are freed before the large arrays are allocated

  idx->indices = make_buffer(device, size_t(idx->nnz) * sizeof(int32_t));
  shard.values = make_buffer(device, size_t(idx->nnz) * sizeof(float));
  BufferPtr mismatch = make_buffer(device, sizeof(unsigned int));
  CS_CUDA_CHECK(cudaMemsetAsync(mismatch->data(), 0, sizeof(unsigned int), ctx.stream));
  a.indptr = idx->indptr->as<int64_t>();
  a.indices = idx->indices->as<int32_t>();
  a.values = shard.values->as<float>();
  a.mismatch = mismatch->as<unsigned int>();
  synth_cells_kernel<true><<<blocks_write, kSynthThreads, shared, ctx.stream>>>(a);
  CS_CUDA_CHECK_LAUNCH("synth_cells_kernel<write>");
  unsigned int bad_rows = 0;
  CS_CUDA_CHECK(cudaMemcpyAsync(&bad_rows, a.mismatch, sizeof bad_rows, cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
  CS_CHECK(bad_rows == 0, "internal: the synthetic atlas's writing pass disagrees with its counting pass in " +
                              std::to_string(bad_rows) + " rows");
  return shard;
}

}  // namespace cellshard
