// Compares the CUDA backend with the CPU backend (the reference) on random
// CSR shards: row/column statistics, gather in every mode, copies, errors,
// several threads at once, and the whole-matrix operations on top.
//
// Build and run from the repository root:
//   /usr/local/cuda/bin/nvcc -std=c++17 -O2 -gencode=arch=compute_90,code=sm_90 --expt-relaxed-constexpr -DCELLSHARD_CUDA -o /tmp/test_backend tests/cuda/test_backend.cu src/core/*.cpp src/cpu/*.cpp src/cuda/*.cu -lcudart -lpthread
//   /tmp/test_backend
// Prints "N passed, M failed" and exits non-zero on any failure; with no GPU
// visible it prints a skip message and exits 0.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../src/core/backend.h"
#include "../../src/core/buffer.h"
#include "../../src/core/errors.h"
#include "../../src/core/operations.h"
#include "../../src/cpu/cpu_backend.h"
#include "../../src/cuda/cuda_backend.h"
#include "driver_support.h"

using namespace cellshard;
using namespace driver_support;

namespace {

// --- random shards ----------------------------------------------------------

struct HostShard : HostIndex {
  std::vector<std::vector<float>> layers;  // value layers over the same index
};

// Rows of very different lengths (empty, short, up to every gene), values
// mixing stored zeros, negatives, small counts and fractions.
HostShard random_shard(std::mt19937_64& rng, int64_t n_rows, int64_t n_cols, double density,
                       int n_layers) {
  HostShard s;
  s.n_rows = n_rows;
  s.n_cols = n_cols;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int64_t r = 0; r < n_rows; ++r) {
    double u = unit(rng), d = density;
    if (u < 0.1) d = 0.0;
    else if (u < 0.15) d = 1.0;
    else if (u < 0.3) d = std::min(1.0, density * 8);
    for (int64_t g = 0; g < n_cols; ++g)
      if (unit(rng) < d) s.indices.push_back(int32_t(g));
    s.indptr.push_back(int64_t(s.indices.size()));
  }
  s.layers.resize(size_t(n_layers));
  for (auto& layer : s.layers) {
    layer.resize(s.indices.size());
    for (auto& v : layer) {
      double u = unit(rng);
      if (u < 0.1) v = 0.0f;
      else if (u < 0.2) v = -float(unit(rng) * 3.0);
      else if (u < 0.6) v = float(1 + int(unit(rng) * 20));
      else v = float(unit(rng) * 1000.0);
    }
  }
  return s;
}

struct DeviceShard : DeviceIndex {
  std::vector<BufferPtr> layers;
  std::vector<const float*> values() const {
    std::vector<const float*> v;
    for (const auto& l : layers) v.push_back(l->as<float>());
    return v;
  }
};

DeviceShard upload(const HostShard& h, int device) {
  DeviceShard d;
  upload_index(h, device, d);
  for (const auto& layer : h.layers) d.layers.push_back(upload_vector(layer, device));
  return d;
}

std::vector<const float*> host_values(const HostShard& h) {
  std::vector<const float*> v;
  for (const auto& l : h.layers) v.push_back(l.data());
  return v;
}

template <class T>
std::vector<T> download(const BufferPtr& b, size_t count) {
  std::vector<T> out(count);
  if (count) b->download(out.data(), count * sizeof(T));
  return out;
}

bool near(double x, double y, double scale) {
  return std::fabs(x - y) <= 1e-12 * std::max(1.0, scale);
}

// --- statistics -------------------------------------------------------------

void test_row_stats(const HostShard& h, const DeviceShard& d, const std::string& label) {
  for (size_t l = 0; l < h.layers.size(); ++l) {
    size_t n = size_t(h.n_rows);
    std::vector<double> cs(n, -7.0), gs(n, -7.0);
    std::vector<int64_t> cp(n, -7), gp(n, -7);
    cpu_backend().row_stats(h.view(), h.layers[l].data(), {cs.data(), cp.data()});
    cuda_backend().row_stats(d.view, d.layers[l]->as<float>(), {gs.data(), gp.data()});
    bool counts_ok = cp == gp, sums_ok = true;
    for (size_t r = 0; r < n; ++r) {
      double scale = 0;
      for (int64_t k = h.indptr[r]; k < h.indptr[r + 1]; ++k) scale += std::fabs(h.layers[l][size_t(k)]);
      sums_ok = sums_ok && near(cs[r], gs[r], scale);
    }
    check(counts_ok, label + ": row_stats counts");
    check(sums_ok, label + ": row_stats sums");
  }
}

// --- gather -----------------------------------------------------------------

struct GatherCase {
  std::string name;
  std::vector<int64_t> rows;
  GeneMap genes;
};

// Output of a gather brought to the host, for comparisons.
struct HostGather {
  int64_t nnz = 0;
  std::vector<int64_t> indptr;
  std::vector<int32_t> indices;
  std::vector<std::vector<float>> values;
};

HostGather download_gather(const GatherOutput& g, int64_t n_rows, bool has_index) {
  HostGather h;
  h.nnz = g.nnz;
  if (has_index) {
    h.indptr = download<int64_t>(g.indptr, size_t(n_rows) + 1);
    h.indices = download<int32_t>(g.indices, size_t(g.nnz));
  }
  for (const auto& v : g.values) h.values.push_back(download<float>(v, size_t(g.nnz)));
  return h;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}

bool same_gather(const HostGather& a, const HostGather& b) {
  if (a.nnz != b.nnz || a.indptr != b.indptr || a.indices != b.indices) return false;
  if (a.values.size() != b.values.size()) return false;
  for (size_t l = 0; l < a.values.size(); ++l)
    if (!same_bits(a.values[l], b.values[l])) return false;
  return true;
}

CsrView index_view(const GatherOutput& g, int device, int64_t n_rows, int64_t n_cols) {
  CsrView v;
  v.device = device;
  v.n_rows = n_rows;
  v.n_cols = n_cols;
  v.nnz = g.nnz;
  v.indptr = g.indptr->as<int64_t>();
  v.indices = g.indices ? g.indices->as<int32_t>() : nullptr;
  return v;
}

void test_gather(const HostShard& h, const DeviceShard& d, const GatherCase& c,
                 const std::string& label) {
  std::string what = label + ", " + c.name + ": gather";
  int64_t n = int64_t(c.rows.size());
  try {
    // Every layer at once.
    GatherOutput cpu = cpu_backend().gather(h.view(), host_values(h), c.rows, c.genes, nullptr);
    GatherOutput gpu = cuda_backend().gather(d.view, d.values(), c.rows, c.genes, nullptr);
    HostGather hc = download_gather(cpu, n, true), hg = download_gather(gpu, n, true);
    check(same_gather(hc, hg), what + " (all layers)");
    check(gpu.indptr && gpu.indptr->device() == d.view.device, what + " output on the shard's device");

    // Index only (no layers), then values of one layer into that index.
    GatherOutput gpu_index = cuda_backend().gather(d.view, {}, c.rows, c.genes, nullptr);
    HostGather hi = download_gather(gpu_index, n, true);
    check(hi.nnz == hc.nnz && hi.indptr == hc.indptr && hi.indices == hc.indices,
          what + " (index only)");
    CsrView pre_gpu = index_view(gpu_index, d.view.device, n, c.genes.n_out);
    CsrView pre_cpu = index_view(cpu, kHost, n, c.genes.n_out);
    for (size_t l = 0; l < h.layers.size(); ++l) {
      GatherOutput cv = cpu_backend().gather(h.view(), {h.layers[l].data()}, c.rows, c.genes, &pre_cpu);
      GatherOutput gv = cuda_backend().gather(d.view, {d.layers[l]->as<float>()}, c.rows, c.genes, &pre_gpu);
      HostGather hcv = download_gather(cv, n, false), hgv = download_gather(gv, n, false);
      check(!gv.indptr && !gv.indices && same_gather(hcv, hgv),
            what + " (prebuilt, layer " + std::to_string(l) + ")");
    }
  } catch (const std::exception& e) {
    check(false, what + " threw: " + e.what());
  }
}

std::vector<GatherCase> gather_cases(std::mt19937_64& rng, const HostShard& h) {
  std::vector<GatherCase> cases;
  int64_t nr = h.n_rows, nc = h.n_cols;
  auto pick = [&](int64_t count, int64_t range) {
    std::vector<int64_t> v(static_cast<size_t>(count));
    std::uniform_int_distribution<int64_t> u(0, std::max<int64_t>(range - 1, 0));
    for (auto& x : v) x = u(rng);
    return v;
  };
  std::vector<int64_t> all_rows(static_cast<size_t>(nr));
  for (int64_t r = 0; r < nr; ++r) all_rows[size_t(r)] = r;
  std::vector<int64_t> sorted_half;
  for (int64_t g = 0; g < nc; g += 2) sorted_half.push_back(g);
  std::vector<int64_t> shuffled_genes(static_cast<size_t>(nc));
  for (int64_t g = 0; g < nc; ++g) shuffled_genes[size_t(g)] = g;
  std::shuffle(shuffled_genes.begin(), shuffled_genes.end(), rng);
  std::vector<int64_t> repeated_genes = pick(nc + nc / 2, nc);  // unsorted, with repeats

  cases.push_back({"identity genes, all rows", all_rows, identity_gene_map(nc)});
  if (nr > 0) {
    cases.push_back({"identity genes, rows with repeats", pick(nr + 17, nr), identity_gene_map(nc)});
    cases.push_back({"monotone genes, rows reversed",
                     std::vector<int64_t>(all_rows.rbegin(), all_rows.rend()),
                     make_gene_map(nc, sorted_half)});
    cases.push_back({"shuffled genes, rows with repeats", pick(nr / 2 + 3, nr),
                     make_gene_map(nc, shuffled_genes)});
    cases.push_back({"genes with repeats, rows with repeats", pick(nr + 5, nr),
                     make_gene_map(nc, repeated_genes)});
    cases.push_back({"no genes", pick(nr, nr), make_gene_map(nc, {})});
    std::vector<int64_t> empty_rows;
    for (int64_t r = 0; r < nr; ++r)
      if (h.indptr[size_t(r)] == h.indptr[size_t(r) + 1]) empty_rows.push_back(r);
    if (!empty_rows.empty())
      cases.push_back({"only empty rows, genes with repeats", empty_rows,
                       make_gene_map(nc, repeated_genes)});
  }
  cases.push_back({"no rows, identity genes", {}, identity_gene_map(nc)});
  cases.push_back({"no rows, genes with repeats", {}, make_gene_map(nc, repeated_genes)});
  return cases;
}

// --- memory -----------------------------------------------------------------

void test_memory(int n_gpus) {
  std::vector<uint8_t> bytes(1 << 20), back(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 31 + 7);
  Backend& b = cuda_backend();
  try {
    void* d0 = b.allocate(0, bytes.size());
    void* d1 = b.allocate(0, bytes.size());
    b.copy_from_host(d0, 0, bytes.data(), bytes.size());
    b.copy_between(d1, 0, d0, 0, bytes.size());
    b.copy_to_host(back.data(), d1, 0, back.size());
    check(back == bytes, "host -> GPU -> same GPU -> host round trip");
    std::fill(back.begin(), back.end(), 0);
    b.copy_between(d0, 0, bytes.data() + 1, kHost, bytes.size() - 1);
    b.copy_between(back.data(), kHost, d0, 0, bytes.size() - 1);
    check(std::equal(back.begin(), back.end() - 1, bytes.begin() + 1), "copy_between with the host");
    if (n_gpus > 1) {
      void* e = b.allocate(1, bytes.size());
      b.copy_between(e, 1, d0, 0, bytes.size() - 1);
      b.copy_between(d1, 0, e, 1, bytes.size() - 1);
      std::fill(back.begin(), back.end(), 0);
      b.copy_to_host(back.data(), d1, 0, bytes.size() - 1);
      check(std::equal(back.begin(), back.end() - 1, bytes.begin() + 1), "copy between two GPUs");
      b.release(1, e);
    }
    b.release(0, d0);
    b.release(0, d1);
    b.release(0, nullptr);
  } catch (const std::exception& e) {
    check(false, std::string("memory round trip threw: ") + e.what());
  }

  // An impossible allocation: OutOfMemory with the device's numbers, and the
  // next allocation still works.
  bool oom = false;
  try {
    b.allocate(0, size_t(1) << 52);
  } catch (const OutOfMemory& e) {
    oom = e.device == 0 && e.requested == (size_t(1) << 52) && e.total_bytes > 0;
  } catch (const std::exception& e) {
    std::printf("  (unexpected exception: %s)\n", e.what());
  }
  check(oom, "huge allocation throws OutOfMemory");
  try {
    BufferPtr after = make_buffer(0, 4096);
    check(after->data() != nullptr, "allocation after OutOfMemory");
  } catch (const std::exception& e) {
    check(false, std::string("allocation after OutOfMemory threw: ") + e.what());
  }
  bool bad_device = false;
  try {
    b.allocate(n_gpus + 3, 16);
  } catch (const OutOfMemory&) {
  } catch (const Error&) {
    bad_device = true;
  }
  check(bad_device, "allocation on a missing GPU throws Error");

  size_t free_bytes = 0, total = 0;
  cuda_memory_info(0, &free_bytes, &total);
  check(total > 0 && free_bytes <= total, "cuda_memory_info");
}

// --- several threads --------------------------------------------------------

// One thread per (device, repeat), like operations.cpp: results must not
// depend on other threads using the backend at the same time.
void test_threads(const HostShard& h, int n_gpus) {
  const int n_threads = std::max(4, 2 * n_gpus);
  GeneMap genes = make_gene_map(h.n_cols, {5, 3, 3, 9, 1, 0, 20, 11});
  std::vector<int64_t> rows;
  for (int64_t r = h.n_rows - 1; r >= 0; r -= 3) rows.push_back(r);
  HostGather want = download_gather(cpu_backend().gather(h.view(), host_values(h), rows, genes, nullptr),
                            int64_t(rows.size()), true);
  std::vector<double> want_sums(static_cast<size_t>(h.n_rows));
  std::vector<int64_t> want_pos(static_cast<size_t>(h.n_rows));
  cpu_backend().row_stats(h.view(), h.layers[0].data(), {want_sums.data(), want_pos.data()});

  std::vector<int> ok(static_cast<size_t>(n_threads), 0);
  std::vector<std::string> errors(static_cast<size_t>(n_threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < n_threads; ++t)
    threads.emplace_back([&, t] {
      try {
        DeviceShard d = upload(h, t % n_gpus);
        bool good = true;
        for (int rep = 0; rep < 5; ++rep) {
          GatherOutput g = cuda_backend().gather(d.view, d.values(), rows, genes, nullptr);
          good = good && same_gather(want, download_gather(g, int64_t(rows.size()), true));
          std::vector<double> s(static_cast<size_t>(h.n_rows));
          std::vector<int64_t> p(static_cast<size_t>(h.n_rows));
          cuda_backend().row_stats(d.view, d.layers[0]->as<float>(), {s.data(), p.data()});
          good = good && p == want_pos;
          for (size_t r = 0; r < s.size(); ++r)
            good = good && near(s[r], want_sums[r], std::fabs(want_sums[r]) * 1e3);
        }
        ok[size_t(t)] = good;
      } catch (const std::exception& e) {
        errors[size_t(t)] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < n_threads; ++t)
    check(ok[size_t(t)] == 1, "thread " + std::to_string(t) + " " + errors[size_t(t)]);
}

// --- whole-matrix operations ------------------------------------------------

void test_operations(const HostShard& h, int n_gpus) {
  try {
    HostCsr csr;
    csr.n_rows = h.n_rows;
    csr.n_cols = h.n_cols;
    csr.indptr = h.indptr;
    csr.indices = h.indices;
    csr.values = h.layers[0];
    std::vector<int> gpus;
    for (int g = 0; g < n_gpus; ++g) gpus.push_back(g);
    MatrixPtr on_host = from_host(csr, even_placement(h.n_rows, {kHost}, 3));
    MatrixPtr on_gpu = from_host(csr, even_placement(h.n_rows, gpus, 5));

    std::vector<double> hs(static_cast<size_t>(h.n_rows)), gs(hs.size());
    std::vector<int64_t> hp(hs.size()), gp(hs.size());
    row_stats(*on_host, hs.data(), hp.data());
    row_stats(*on_gpu, gs.data(), gp.data());
    bool sums_ok = true;
    for (size_t r = 0; r < hs.size(); ++r) sums_ok = sums_ok && near(hs[r], gs[r], 1e4 * std::fabs(hs[r]));
    check(hp == gp && sums_ok, "operations: row_stats over GPU shards");

    std::vector<double> hc(static_cast<size_t>(h.n_cols)), gc(hc.size());
    std::vector<int64_t> hcp(hc.size()), gcp(hc.size());
    col_stats(*on_host, hc.data(), hcp.data());
    col_stats(*on_gpu, gc.data(), gcp.data());
    sums_ok = true;
    for (size_t g = 0; g < hc.size(); ++g) sums_ok = sums_ok && near(hc[g], gc[g], 1e4 * std::fabs(hc[g]));
    check(hcp == gcp && sums_ok, "operations: col_stats over GPU shards");

    std::vector<int64_t> rows;
    for (int64_t r = 0; r < h.n_rows; r += 2) rows.push_back(h.n_rows - 1 - r);
    GeneMap genes = make_gene_map(h.n_cols, {7, 2, 2, 0, 30, 19});
    // A second layer over the same index, subset right after the first, reuses
    // the first one's new index (the prebuilt path); results are kept alive
    // because the cache only holds weak references.
    MatrixPtr layer2_host = with_host_values(*on_host, h.layers[1]);
    MatrixPtr layer2_gpu = with_host_values(*on_gpu, h.layers[1]);
    MatrixPtr sub_host = subset(*on_host, rows, genes);
    MatrixPtr sub2_host = subset(*layer2_host, rows, genes);
    MatrixPtr sub_gpu = subset(*on_gpu, rows, genes);
    MatrixPtr sub2_gpu = subset(*layer2_gpu, rows, genes);
    check(sub2_gpu->shared_index() == sub_gpu->shared_index(),
          "operations: second layer shares the subset's index");
    HostCsr a = to_host(*sub_host), b = to_host(*sub_gpu);
    check(a.indptr == b.indptr && a.indices == b.indices && same_bits(a.values, b.values),
          "operations: subset over GPU shards");
    HostCsr c = to_host(*sub2_host), d = to_host(*sub2_gpu);
    check(c.indptr == d.indptr && c.indices == d.indices && same_bits(c.values, d.values),
          "operations: subset of a second layer");
    MatrixPtr moved = rebalance(*on_gpu, even_placement(h.n_rows, gpus, 2));
    HostCsr e = to_host(*moved);
    check(e.indptr == csr.indptr && e.indices == csr.indices && same_bits(e.values, csr.values),
          "operations: rebalance over GPUs");
  } catch (const std::exception& e) {
    check(false, std::string("operations threw: ") + e.what());
  }
}

}  // namespace

int main() {
  int n_gpus = cuda_device_count();
  if (n_gpus == 0) {
    std::printf("skipped: no CUDA device visible (cuda_device_count() == 0)\n");
    return 0;
  }
  for (int g = 0; g < n_gpus; ++g) std::printf("%s\n", cuda_device_description(g).c_str());

  std::mt19937_64 rng(20240611);
  struct Shape { int64_t rows, cols; double density; };
  // Small and odd shapes, rows longer than a warp, and one shard big enough
  // that the grid-stride loops go round more than once.
  const Shape shapes[] = {{0, 10, 0.1}, {1, 1, 1.0}, {7, 3, 0.0}, {40, 50, 0.2},
                          {300, 200, 0.05}, {1000, 3000, 0.02}, {150000, 2000, 0.02}};
  for (const Shape& sh : shapes) {
    std::string label = std::to_string(sh.rows) + "x" + std::to_string(sh.cols);
    HostShard h = random_shard(rng, sh.rows, sh.cols, sh.density, 2);
    int device = int(sh.rows % n_gpus);
    DeviceShard d = upload(h, device);
    test_row_stats(h, d, label);
    for (const GatherCase& c : gather_cases(rng, h)) test_gather(h, d, c, label);
  }

  test_memory(n_gpus);
  HostShard mid = random_shard(rng, 2000, 400, 0.05, 2);
  test_threads(mid, n_gpus);
  test_operations(mid, n_gpus);

  return summary();
}
