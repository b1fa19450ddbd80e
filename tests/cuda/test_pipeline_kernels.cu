// Compares the CUDA pipeline kernels (src/cuda/*_kernels.cu) with the CPU
// ones (the reference) on random CSR shards: counts-like and log-like values,
// empty rows, one-value rows, rows of thousands of values, every kernel, and
// shards big enough that the kernels work in several chunks or blocks.
//
// Build and run from the repository root:
//   tools/gpu-check.sh builds it (it needs R's headers and LAPACK for the CPU
//   eigensolver, and cuBLAS, cuSOLVER, NCCL).
//   /tmp/test_pipeline [--quick]
// --quick leaves out the big shards, the Lanczos cases and all chefsi cases but one (for compute-sanitizer). Prints "N passed, M failed" and exits non-zero on any failure; with no GPU
// visible it prints a skip message and exits 0.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../src/core/backend.h"
#include "../../src/core/buffer.h"
#include "../../src/core/device_partials.h"
#include "../../src/core/eigen_order.h"
#include "../../src/core/errors.h"
#include "../../src/core/memory_budget.h"
#include "../../src/core/pipeline_kernels.h"
#include "../../src/cpu/cpu_pipeline_kernels.h"
#include "../../src/cuda/cuda_backend.h"
#include "../../src/cuda/cuda_pipeline_kernels.h"
#include "../../src/cuda/device_context.h"
#include "../../src/cuda/chefsi_on_device.h"
#include "../../src/cuda/lanczos_on_device.h"
#include "../../src/cuda/pipeline_device.h"
#include "../../src/cuda/sparse_gram_tiles.h"
#include "driver_support.h"

using namespace cellshard;
using namespace driver_support;

namespace {

PipelineKernels& cpu() { return cpu_pipeline_kernels(); }
PipelineKernels& gpu() { return cuda_pipeline_kernels(); }

// Runs `body`, turning an exception into a failed check named `what`.
void guarded(const std::string& what, const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    check(false, what + " threw: " + e.what());
  }
}

// --- random shards ----------------------------------------------------------

enum class Values { Counts, Log, Mixed };

struct HostShard : HostIndex {
  std::vector<float> values;
};

// Rows of very different lengths: 10% empty, 5% with one value, 5% with
// every gene, 15% eight times denser; row 1 (when there is one) holds up to
// 8000 genes. Values like raw counts (1..50), like log1p of normalised
// counts, or a mix of stored zeros, negatives, counts and large fractions.
HostShard random_shard(std::mt19937_64& rng, int64_t n_rows, int64_t n_cols, double density,
                       Values kind) {
  HostShard s;
  s.n_rows = n_rows;
  s.n_cols = n_cols;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<int32_t> row;
  for (int64_t r = 0; r < n_rows; ++r) {
    row.clear();
    double u = unit(rng), d = density;
    if (r == 1) d = std::min(1.0, 8000.0 / double(std::max<int64_t>(n_cols, 1)));
    else if (u < 0.1) d = 0.0;
    else if (u < 0.15) d = -1.0;  // one value
    else if (u < 0.2) d = 1.0;
    else if (u < 0.35) d = std::min(1.0, density * 8);
    if (d < 0) {
      if (n_cols > 0) row.push_back(int32_t(unit(rng) * double(n_cols)) % int32_t(n_cols));
    } else {
      for (int64_t g = 0; g < n_cols; ++g)
        if (d >= 1.0 || unit(rng) < d) row.push_back(int32_t(g));
    }
    s.indices.insert(s.indices.end(), row.begin(), row.end());
    s.indptr.push_back(int64_t(s.indices.size()));
  }
  s.values.resize(s.indices.size());
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t b = s.indptr[size_t(r)], e = s.indptr[size_t(r) + 1];
    for (int64_t k = b; k < e; ++k) {
      float& v = s.values[size_t(k)];
      double u = unit(rng);
      switch (kind) {
        case Values::Counts: v = float(1 + int(unit(rng) * 50)); break;
        case Values::Log: v = float(std::log1p(double(1 + int(u * 50)) * 1e4 / double(20 * (e - b) + 1))); break;
        case Values::Mixed:
          if (u < 0.1) v = 0.0f;
          else if (u < 0.2) v = -float(unit(rng) * 3.0);
          else if (u < 0.6) v = float(1 + int(unit(rng) * 20));
          else v = float(unit(rng) * 1000.0);
          break;
      }
    }
  }
  return s;
}

struct DeviceShard : DeviceIndex {
  BufferPtr values;
  const float* data() const { return values ? values->as<float>() : nullptr; }
};

DeviceShard upload(const HostShard& h, int device) {
  DeviceShard d;
  upload_index(h, device, d);
  d.values = upload_vector(h.values, device);
  return d;
}

// A shard with `per_row` values in each row (distinct sorted genes): far
// sparser than random_shard's, whose dense rows make every shard dense.
HostShard few_per_row_shard(std::mt19937_64& rng, int64_t n_rows, int64_t n_cols, int per_row) {
  HostShard s;
  s.n_rows = n_rows;
  s.n_cols = n_cols;
  std::uniform_real_distribution<double> unit(-4.0, 4.0);
  std::vector<int32_t> row;
  for (int64_t r = 0; r < n_rows; ++r) {
    row.clear();
    while (int(row.size()) < per_row) {
      int32_t g = int32_t(rng() % uint64_t(n_cols));
      if (std::find(row.begin(), row.end(), g) == row.end()) row.push_back(g);
    }
    std::sort(row.begin(), row.end());
    s.indices.insert(s.indices.end(), row.begin(), row.end());
    s.indptr.push_back(int64_t(s.indices.size()));
  }
  s.values.resize(s.indices.size());
  for (float& v : s.values) v = float(unit(rng));
  return s;
}

// |x - y| <= tol * scale, with scale at least the larger magnitude.
bool close(double x, double y, double tol, double scale = 0.0) {
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (x == y) return true;
  scale = std::max({scale, std::fabs(x), std::fabs(y)});
  return std::fabs(x - y) <= tol * scale;
}

// Relative Frobenius distance.
double frobenius_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += a[i] * a[i];
  }
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

std::vector<double> random_doubles(std::mt19937_64& rng, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// --- map_values -------------------------------------------------------------

struct MapCase {
  std::string name;
  ValueMap map;
};

void test_map_values(std::mt19937_64& rng, const HostShard& h, const DeviceShard& d,
                     const std::string& label) {
  std::vector<double> row_factor = random_doubles(rng, size_t(h.n_rows), 0.01, 3.0);
  std::vector<double> col_factor = random_doubles(rng, size_t(h.n_cols), 0.1, 4.0);
  std::vector<double> col_offset = random_doubles(rng, size_t(h.n_cols), -2.0, 2.0);
  std::vector<MapCase> cases;
  {
    MapCase c{"identity", {}};
    cases.push_back(c);
    c = {"normalise + log1p", {}};
    c.map.row_factor = row_factor.data();
    c.map.op = ValueMap::Op::Log1p;
    cases.push_back(c);
    c = {"log1p base 2", {}};
    c.map.op = ValueMap::Op::Log1p;
    c.map.log_divisor = std::log(2.0);
    cases.push_back(c);
    c = {"expm1", {}};
    c.map.op = ValueMap::Op::Expm1;
    c.map.row_factor = row_factor.data();
    cases.push_back(c);
    c = {"scale, clip above", {}};
    c.map.col_factor = col_factor.data();
    c.map.hi = 10.0;
    cases.push_back(c);
    c = {"centre + scale, clip both", {}};
    c.map.col_factor = col_factor.data();
    c.map.col_offset = col_offset.data();
    c.map.lo = -10.0;
    c.map.hi = 10.0;
    cases.push_back(c);
    c = {"everything", {}};
    c.map.row_factor = row_factor.data();
    c.map.op = ValueMap::Op::Log1p;
    c.map.col_factor = col_factor.data();
    c.map.col_offset = col_offset.data();
    c.map.lo = -1.5;
    c.map.hi = 3.0;
    cases.push_back(c);
  }
  const size_t nnz = size_t(h.nnz());
  for (const MapCase& c : cases) {
    for (bool in_place : {false, true}) {
      std::string what = label + ": map_values " + c.name + (in_place ? " (in place)" : "");
      guarded(what, [&] {
        std::vector<float> want(nnz, -7.0f);
        cpu().map_values(h.view(), h.values.data(), want.data(), c.map);
        BufferPtr work = make_buffer(d.view.device, nnz * sizeof(float));
        work->upload(h.values.data(), work->bytes());
        BufferPtr out = in_place ? work : make_buffer(d.view.device, nnz * sizeof(float));
        gpu().map_values(d.view, nnz ? work->as<float>() : nullptr,
                         nnz ? out->as<float>() : nullptr, c.map);
        std::vector<float> got(nnz);
        if (nnz) out->download(got.data(), nnz * sizeof(float));
        size_t bad = 0;
        for (size_t k = 0; k < nnz; ++k) bad += !close(want[k], got[k], 1e-6);
        check(bad == 0, what + (bad ? " (" + std::to_string(bad) + " values differ)" : ""));
        if (!in_place) {  // the input is left alone
          std::vector<float> input(nnz);
          if (nnz) work->download(input.data(), nnz * sizeof(float));
          check(input == h.values, what + " leaves its input alone");
        }
      });
    }
  }
}

// Runs `fn` on a device copy of `host` (accumulators of the per-gene kernels
// live in device memory) and returns what the device copy holds afterwards.
std::vector<double> through_device(int device, const std::vector<double>& host,
                                   const std::function<void(double*)>& fn) {
  BufferPtr b = make_buffer(device, std::max<size_t>(host.size(), 1) * sizeof(double));
  b->upload(host.data(), host.size() * sizeof(double));
  fn(b->as<double>());
  std::vector<double> out(host.size());
  b->download(out.data(), out.size() * sizeof(double));
  return out;
}

// col_moments into one array of 3n: sums, then squares, then counts.
ColumnMoments moments_at(double* acc, size_t n) { return {acc, acc + n, acc + 2 * n}; }

std::vector<double> gpu_moments(const DeviceShard& d, const MomentOptions& o,
                                const std::vector<double>& start) {
  const size_t n = size_t(d.view.n_cols);
  return through_device(d.view.device, start, [&](double* acc) {
    gpu().col_moments(d.view, d.data(), o, moments_at(acc, n));
  });
}

// --- col_moments ------------------------------------------------------------

void test_col_moments(std::mt19937_64& rng, const HostShard& h, const DeviceShard& d,
                      const std::string& label, bool exact) {
  const size_t n = size_t(h.n_cols);
  std::vector<double> clip = random_doubles(rng, n, 0.5, 30.0);
  if (n > 2) clip[1] = -0.5;  // a negative clip turns stored zeros into negatives
  struct Case { std::string name; MomentOptions o; };
  std::vector<Case> cases = {{"x", {}}, {"expm1", {true, nullptr}}, {"clip", {false, clip.data()}},
                             {"expm1 + clip", {true, clip.data()}}};
  for (const Case& c : cases) {
    std::string what = label + ": col_moments " + c.name;
    guarded(what, [&] {
      // Start from non-zero totals: col_moments must add to them.
      std::vector<double> start(3 * n);
      for (size_t g = 0; g < n; ++g) {
        start[g] = 0.25 * double(g);
        start[n + g] = 1.5 * double(g);
        start[2 * n + g] = double(g % 5);
      }
      // Scales for the tolerances: the same sums of |f| and f^2.
      std::vector<double> abs_sum(start.begin(), start.begin() + n),
          sq_sum(start.begin() + n, start.begin() + 2 * n);
      for (size_t k = 0; k < size_t(h.nnz()); ++k) {
        size_t g = size_t(h.indices[k]);
        double f = c.o.expm1 ? std::expm1(double(h.values[k])) : double(h.values[k]);
        if (c.o.clip) f = std::min(f, c.o.clip[g]);
        abs_sum[g] += std::fabs(f);
        sq_sum[g] += f * f;
      }
      std::vector<double> want = start;
      cpu().col_moments(h.view(), h.values.data(), c.o, moments_at(want.data(), n));
      std::vector<double> got = gpu_moments(d, c.o, start);
      bool sums_ok = true, counts_ok = true;
      for (size_t g = 0; g < n; ++g) {
        if (exact && !c.o.expm1 && !c.o.clip) {  // integer sums: exact in any order
          sums_ok = sums_ok && want[g] == got[g] && want[n + g] == got[n + g];
        } else {
          sums_ok = sums_ok && close(want[g], got[g], 1e-12, abs_sum[g]) &&
                    close(want[n + g], got[n + g], 1e-12, sq_sum[g]);
        }
        counts_ok = counts_ok && want[2 * n + g] == got[2 * n + g];
      }
      check(counts_ok, what + " counts");
      check(sums_ok, what + " sums");
      // Run to run, the GPU gives the same bits.
      std::vector<double> zero(3 * n, 0.0);
      std::vector<double> first = gpu_moments(d, c.o, zero), again = gpu_moments(d, c.o, zero);
      check(n == 0 || std::memcmp(first.data(), again.data(), 3 * n * 8) == 0,
            what + " reproducible");
    });
  }
}

// Runs `body` with the environment variable `name` set to `value`.
void with_env(const char* name, const char* value, const std::function<void()>& body) {
  setenv(name, value, 1);
  try {
    body();
  } catch (...) {
    unsetenv(name);
    throw;
  }
  unsetenv(name);
}

// Rows in several chunks (their gene-range starts held a chunk at a time,
// CELLSHARD_MOMENTS_CHUNK_ROWS) give the same bits as in one.
void test_col_moments_chunks(const HostShard& h, const DeviceShard& d, const std::string& label) {
  const std::string what = label + ": col_moments in chunks of 300 rows, same bits";
  guarded(what, [&] {
    const size_t n = size_t(h.n_cols);
    std::vector<double> zero(3 * n, 0.0);
    MomentOptions o;
    o.expm1 = true;
    std::vector<double> whole = gpu_moments(d, o, zero), chunked;
    with_env("CELLSHARD_MOMENTS_CHUNK_ROWS", "300", [&] { chunked = gpu_moments(d, o, zero); });
    check(n == 0 || std::memcmp(whole.data(), chunked.data(), 3 * n * 8) == 0, what);
  });
}

// NaN and infinities give what float64 sums give (NaN, or the infinity),
// huge finite values too, beside ordinary genes; clip included.
void test_col_moments_non_finite(std::mt19937_64& rng, int device) {
  HostShard h = random_shard(rng, 60, 12, 0.5, Values::Mixed);
  const float inf = std::numeric_limits<float>::infinity();
  const float special[] = {std::numeric_limits<float>::quiet_NaN(), inf, -inf, inf, 3e38f, -3e38f};
  bool seen_neg = false;
  for (size_t k = 0; k < h.indices.size(); ++k) {
    const int32_t g = h.indices[k];
    if (g >= 6) continue;
    h.values[k] = special[g];
    if (g == 3 && !seen_neg) {  // gene 3: one -Inf, the others +Inf
      h.values[k] = -inf;
      seen_neg = true;
    }
  }
  DeviceShard d = upload(h, device);
  test_col_moments(rng, h, d, "60x12 with NaN and infinities", false);
}

// --- row_subset_sums, row_top_sums, flag_dominant_genes ---------------------

void test_row_subset_sums(std::mt19937_64& rng, const HostShard& h, const DeviceShard& d,
                          const std::string& label) {
  for (int n_subsets : {1, 3, 32}) {
    std::string what = label + ": row_subset_sums, " + std::to_string(n_subsets) + " subsets";
    guarded(what, [&] {
      std::vector<uint32_t> bits(size_t(h.n_cols));
      for (auto& b : bits) b = uint32_t(rng()) & uint32_t(rng());  // about a quarter of genes
      if (n_subsets == 1 && !bits.empty()) bits[0] = 0xffffffffu;
      const size_t n_out = size_t(n_subsets) * size_t(h.n_rows);
      std::vector<double> want(n_out, -7.0), got(n_out, -9.0);
      cpu().row_subset_sums(h.view(), h.values.data(), bits.data(), n_subsets, want.data());
      gpu().row_subset_sums(d.view, d.data(), bits.data(), n_subsets, got.data());
      check(want == got, what);
    });
  }
  // The fused QC pass: the subset sums above and the GPU's row_stats, bit for bit.
  for (int n_subsets : {0, 1, 3, 32}) {
    std::string what = label + ": row_qc, " + std::to_string(n_subsets) + " subsets";
    guarded(what, [&] {
      std::vector<uint32_t> bits(size_t(h.n_cols));
      for (auto& b : bits) b = uint32_t(rng()) & uint32_t(rng());
      const size_t n = size_t(h.n_rows), n_out = size_t(n_subsets) * n;
      std::vector<double> want(n_out, -7.0), got(n_out, -9.0), sums(n, -1.0), want_sums(n, -2.0);
      std::vector<int64_t> pos(n, -1), want_pos(n, -2);
      cpu().row_subset_sums(h.view(), h.values.data(), bits.data(), n_subsets, want.data());
      cuda_backend().row_stats(d.view, d.data(), {want_sums.data(), want_pos.data()});
      gpu().row_qc(d.view, d.data(), bits.data(), n_subsets, {sums.data(), pos.data()}, got.data());
      check(want == got && pos == want_pos &&
                (n == 0 || std::memcmp(sums.data(), want_sums.data(), n * 8) == 0),
            what);
    });
  }
}

void test_row_top_sums(const HostShard& h, const DeviceShard& d, const std::string& label) {
  const std::vector<std::vector<int>> all_ns = {
      {50, 100, 200, 500}, {1}, {1, 2, 3, 1000}, {0, 5, 5, 20000}};
  for (const auto& ns : all_ns) {
    std::string what = label + ": row_top_sums, ns from " + std::to_string(ns.front()) + " to " +
                       std::to_string(ns.back());
    guarded(what, [&] {
      const size_t n_out = ns.size() * size_t(h.n_rows);
      std::vector<double> want(n_out, -7.0), got(n_out, -9.0);
      cpu().row_top_sums(h.view(), h.values.data(), ns, want.data());
      gpu().row_top_sums(d.view, d.data(), ns, got.data());
      size_t bad = 0;
      for (size_t i = 0; i < n_out; ++i) bad += !close(want[i], got[i], 1e-12);
      size_t differ = 0;
      for (size_t i = 0; i < n_out; ++i) differ += want[i] != got[i];
      check(bad == 0, what + (bad ? " (" + std::to_string(bad) + " sums differ)" : ""));
      // Sorted and summed in the same order as the host: the same bits.
      check(differ == 0, what + " bit for bit");
    });
  }
}

void test_flag_dominant(const HostShard& h, const DeviceShard& d, const std::string& label) {
  std::vector<double> totals(size_t(h.n_rows), 0.0);
  for (int64_t r = 0; r < h.n_rows; ++r)
    for (int64_t k = h.indptr[size_t(r)]; k < h.indptr[size_t(r) + 1]; ++k)
      totals[size_t(r)] += h.values[size_t(k)];
  for (double fraction : {0.0, 0.05, 0.2, 0.9}) {
    std::string what = label + ": flag_dominant_genes, fraction " + std::to_string(fraction);
    guarded(what, [&] {
      // Flags already set stay set.
      std::vector<double> start(size_t(h.n_cols), 0.0);
      for (size_t g = 0; g < start.size(); g += 7) start[g] = 1.0;
      std::vector<double> want = start;
      cpu().flag_dominant_genes(h.view(), h.values.data(), totals.data(), fraction, want.data());
      std::vector<double> got = through_device(d.view.device, start, [&](double* flags) {
        gpu().flag_dominant_genes(d.view, d.data(), totals.data(), fraction, flags);
      });
      check(want == got, what);
    });
  }
}

// --- gram and multiply ------------------------------------------------------

std::vector<double> gpu_gram(const DeviceShard& d, const std::vector<double>& start) {
  return through_device(d.view.device, start,
                        [&](double* g) { gpu().gram(d.view, d.data(), g); });
}

void test_gram(const HostShard& h, const DeviceShard& d, const std::string& label) {
  std::string what = label + ": gram";
  guarded(what, [&] {
    const size_t n = size_t(h.n_cols);
    // Start from a non-zero symmetric matrix: gram must add to it.
    std::vector<double> want(n * n);
    for (size_t j = 0; j < n; ++j)
      for (size_t i = 0; i < n; ++i) want[i + j * n] = double((i + j) % 5);
    std::vector<double> got = gpu_gram(d, want);
    cpu().gram(h.view(), h.values.data(), want.data());
    double dist = frobenius_distance(want, got);
    check(dist <= 1e-10, what + " (relative Frobenius distance " + std::to_string(dist) + ")");
    bool symmetric = true;
    for (size_t j = 0; j < n && symmetric; ++j)
      for (size_t i = 0; i < j; ++i) symmetric = symmetric && got[i + j * n] == got[j + i * n];
    check(symmetric, what + " symmetric");
    std::vector<double> zero(n * n, 0.0);
    check(gpu_gram(d, zero) == gpu_gram(d, zero), what + " reproducible");
  });
}

void test_multiply(std::mt19937_64& rng, const HostShard& h, const DeviceShard& d,
                   const std::string& label, const std::vector<int>& ks) {
  for (int k : ks) {
    for (bool with_shift : {false, true}) {
      std::string what = label + ": multiply, k = " + std::to_string(k) +
                         (with_shift ? ", shifted, into a taller array" : "");
      guarded(what, [&] {
        const std::vector<double> v_double =
            random_doubles(rng, size_t(h.n_cols) * size_t(k), -1.0, 1.0);
        const std::vector<float> v(v_double.begin(), v_double.end());
        std::vector<double> shift = random_doubles(rng, size_t(k), -3.0, 3.0);
        const double* sh = with_shift ? shift.data() : nullptr;
        // With a shift, write rows 2.. of an array with 5 extra rows per column.
        const int64_t ld = h.n_rows + (with_shift ? 5 : 0), first = with_shift ? 2 : 0;
        const size_t n_out = size_t(ld) * size_t(k);
        std::vector<double> want(n_out, -7.0), start(n_out, -7.0);
        cpu().multiply(h.view(), h.values.data(), v.data(), k, sh, want.data() + first, ld);
        // The CPU backend against the product written out here, in long double.
        std::vector<double> plain(n_out, -7.0);
        for (int64_t r = 0; r < h.n_rows; ++r)
          for (int j = 0; j < k; ++j) {
            long double s = sh ? sh[j] : 0.0;
            for (int64_t p = h.indptr[size_t(r)]; p < h.indptr[size_t(r) + 1]; ++p)
              s += (long double)h.values[size_t(p)] *
                   v[size_t(j) * size_t(h.n_cols) + size_t(h.indices[size_t(p)])];
            plain[size_t(j * ld + first + r)] = double(s);
          }
        const double off = frobenius_distance(plain, want);
        check(off <= 1e-12, what + ": the CPU's against a plain loop (relative Frobenius distance " +
                                std::to_string(off) + ")");
        // The GPU writes into device memory (the scores stay there).
        auto gpu_multiply = [&] {
          return through_device(d.view.device, start, [&](double* out) {
            gpu().multiply(d.view, d.data(), v.data(), k, sh, out + first, ld);
          });
        };
        std::vector<double> got = gpu_multiply();
        double dist = frobenius_distance(want, got);
        check(dist <= 1e-10, what + " (relative Frobenius distance " + std::to_string(dist) + ")");
        bool untouched = true;  // rows outside the shard's are left alone
        for (int j = 0; j < k; ++j)
          for (int64_t r = 0; r < ld; ++r)
            if (r < first || r >= first + h.n_rows) untouched = untouched && got[size_t(j * ld + r)] == -7.0;
        check(untouched, what + ": writes only its rows");
        // The sparse method sums in the host's order; the dense one (cuBLAS) does not.
        if (!multiply_uses_dense_rows(d.view, k)) check(want == got, what + " bit for bit");
        check(gpu_multiply() == got, what + " reproducible");
      });
    }
  }
}

// --- shards with nothing in them ---------------------------------------------

void test_empty(int device) {
  guarded("empty shards", [&] {
    for (int64_t rows : {0, 5}) {
      HostShard h;
      h.n_rows = rows;
      h.n_cols = 4;
      h.indptr.assign(size_t(rows) + 1, 0);
      CsrView v = h.view();
      v.device = device;
      BufferPtr indptr = make_buffer(device, h.indptr.size() * sizeof(int64_t));
      indptr->upload(h.indptr.data(), indptr->bytes());
      v.indptr = indptr->as<int64_t>();
      v.indices = nullptr;
      std::string what = "shard of " + std::to_string(rows) + " empty rows";
      gpu().map_values(v, nullptr, nullptr, ValueMap{});
      DeviceShard ds;
      ds.view = v;
      std::vector<double> start = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
      check(gpu_moments(ds, {}, start) == start, what + ": col_moments adds nothing");
      std::vector<uint32_t> bits(4, 1u);
      std::vector<double> out(size_t(rows) * 2, -1.0);
      gpu().row_subset_sums(v, nullptr, bits.data(), 2, out.data());
      check(out == std::vector<double>(out.size(), 0.0), what + ": row_subset_sums zeros");
      out.assign(size_t(rows) * 2, -1.0);
      gpu().row_top_sums(v, nullptr, {1, 2}, out.data());
      check(out == std::vector<double>(out.size(), 0.0), what + ": row_top_sums zeros");
      std::vector<double> totals(size_t(rows), 0.0);
      std::vector<double> flags = {0, 1, 0, 0};
      check(through_device(device, flags, [&](double* f) {
              gpu().flag_dominant_genes(v, nullptr, totals.data(), 0.05, f);
            }) == flags,
            what + ": flag_dominant_genes");
      check(gpu_gram(ds, std::vector<double>(16, 1.0)) == std::vector<double>(16, 1.0),
            what + ": gram adds nothing");
      std::vector<float> vm(4 * 3, 1.0f);
      std::vector<double> shift = {1.5, -2, 0};
      std::vector<double> mo = through_device(device, std::vector<double>(size_t(rows) * 3, -1.0),
                                              [&](double* out) {
                                                gpu().multiply(v, nullptr, vm.data(), 3, nullptr,
                                                               out, rows);
                                              });
      check(mo == std::vector<double>(mo.size(), 0.0), what + ": multiply zeros");
      mo = through_device(device, std::vector<double>(size_t(rows) * 3, -1.0), [&](double* out) {
        gpu().multiply(v, nullptr, vm.data(), 3, shift.data(), out, rows);
      });
      bool shifted = true;
      for (int64_t r = 0; r < rows; ++r)
        for (int j = 0; j < 3; ++j) shifted = shifted && mo[size_t(j * rows + r)] == shift[size_t(j)];
      check(shifted, what + ": multiply gives the shift");
    }
  });
}

// --- covariance corrections, eigenpairs, all-reduce --------------------------

// Eigenpairs from a solver, ascending but for two equal values a rounding out
// of order (cuSOLVER's syevdx gave such a pair on a matrix with eigenvalues
// repeated 30 times), come out decreasing, each vector with its value; an
// ascending list comes out exactly reversed.
void test_eigenpairs_decreasing() {
  const double w[4] = {1.0, 2.0000000000000004, 2.0, 3.0};
  const double z[8] = {1, 10, 2, 20, 3, 30, 4, 40};  // n = 2: column j is (j + 1) * (1, 10)
  double values[4], vectors[8];
  eigenpairs_decreasing(w, z, 2, 4, values, vectors);
  check(values[0] == 3.0 && values[1] == 2.0000000000000004 && values[2] == 2.0 &&
            values[3] == 1.0,
        "eigenpairs: a rounding out of order sorted");
  check(vectors[0] == 4 && vectors[2] == 2 && vectors[4] == 3 && vectors[6] == 1 &&
            vectors[7] == 10,
        "eigenpairs: each vector with its value");
  const double up[3] = {1.0, 2.0, 2.0};
  const double zu[3] = {1, 2, 3};  // n = 1
  double vu[3], xu[3];
  eigenpairs_decreasing(up, zu, 1, 3, vu, xu);
  check(vu[0] == 2.0 && vu[2] == 1.0 && xu[0] == 3 && xu[1] == 2 && xu[2] == 1,
        "eigenpairs: ascending ones reversed, ties included");
}

void test_outer_products_and_eigen(std::mt19937_64& rng, int device) {
  for (int64_t n : {1, 7, 120, 700}) {
    std::string what = "covariance eigenpairs, n = " + std::to_string(n);
    guarded(what, [&] {
      const size_t nn = size_t(n) * size_t(n);
      // A random Gram matrix B^T B and the corrections computePCA applies.
      std::vector<double> b = random_doubles(rng, size_t(n) * 3, -1.0, 1.0);
      std::vector<double> a(nn, 0.0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          for (int r = 0; r < 3; ++r) a[size_t(i + j * n)] += b[size_t(r * n + i)] * b[size_t(r * n + j)];
      for (int64_t i = 0; i < n; ++i) a[size_t(i + i * n)] += 1.0 + double(i % 4);
      std::vector<double> x = random_doubles(rng, size_t(n), -2.0, 2.0),
                          y = random_doubles(rng, size_t(n), -2.0, 2.0);
      std::vector<OuterProduct> terms = {{0.5, x.data(), y.data()}, {0.5, y.data(), x.data()},
                                         {-0.25, x.data(), x.data()}};
      std::vector<double> want = a;
      cpu().add_outer_products(kHost, want.data(), n, 0.5, terms);
      std::vector<double> got = through_device(device, a, [&](double* d) {
        gpu().add_outer_products(device, d, n, 0.5, terms);
      });
      check(frobenius_distance(want, got) <= 1e-14, what + ": outer products");

      const int k = int(std::min<int64_t>(n, 10));
      const size_t kk = static_cast<size_t>(k), nk = static_cast<size_t>(n) * kk;
      std::vector<double> cv(kk), cvec(nk), gv(kk), gvec(nk);
      std::vector<double> host_copy = want;
      cpu().top_eigen(kHost, host_copy.data(), n, k, cv.data(), cvec.data());
      through_device(device, want, [&](double* d) {
        gpu().top_eigen(device, d, n, k, gv.data(), gvec.data());
      });
      bool values_ok = true, vectors_ok = true, decreasing = true;
      for (int j = 0; j < k; ++j) {
        values_ok = values_ok && close(cv[size_t(j)], gv[size_t(j)], 1e-10, std::fabs(cv[0]));
        if (j > 0) decreasing = decreasing && gv[size_t(j)] <= gv[size_t(j - 1)];
        // Well-separated eigenvalues: the same vector up to sign.
        bool separated = (j == 0 || cv[size_t(j - 1)] - cv[size_t(j)] > 1e-6 * std::fabs(cv[0])) &&
                         (j == k - 1 || cv[size_t(j)] - cv[size_t(j + 1)] > 1e-6 * std::fabs(cv[0]));
        if (!separated || j == k - 1) continue;
        double dot = 0;
        for (int64_t i = 0; i < n; ++i)
          dot += cvec[size_t(j * n + i)] * gvec[size_t(j * n + i)];
        vectors_ok = vectors_ok && std::fabs(std::fabs(dot) - 1.0) < 1e-8;
      }
      check(values_ok, what + ": eigenvalues GPU == CPU");
      check(decreasing, what + ": eigenvalues decreasing");
      check(vectors_ok, what + ": eigenvectors GPU == CPU up to sign");
    });
  }
}

// --- the sparse Gram method and the Lanczos eigensolver ----------------------

// The Gram by one method (CELLSHARD_GRAM_METHOD), against the host's float64
// sums: each entry within 1e-11 of sqrt(G_ii G_jj) + |start_ij| (the sparse
// method rounds each product once to 2^-45 of its genes' largest values;
// float64 sums differ from each other by about as much, and adding a tiny
// Gram entry to the start matrix rounds at the start's scale), symmetric,
// the same bits twice.
void test_gram_method(const HostShard& h, const DeviceShard& d, const std::string& label,
                      const char* method) {
  std::string what = label + ": " + method + " gram";
  guarded(what, [&] {
    with_env("CELLSHARD_GRAM_METHOD", method, [&] {
      const size_t n = size_t(h.n_cols);
      std::vector<double> start(n * n);
      for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i < n; ++i) start[i + j * n] = double((i + j) % 5);
      std::vector<double> got = gpu_gram(d, start), want = start;
      cpu().gram(h.view(), h.values.data(), want.data());
      double worst = 0;
      bool symmetric = true;
      for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i < n; ++i) {
          const double scale = std::sqrt(std::fabs(want[i + i * n]) * std::fabs(want[j + j * n])) +
                               std::fabs(start[i + j * n]);
          const double diff = std::fabs(got[i + j * n] - want[i + j * n]);
          worst = std::max(worst, scale > 0 ? diff / scale : diff);
          symmetric = symmetric && got[i + j * n] == got[j + i * n];
        }
      check(worst <= 1e-11, what + " (worst entry " + std::to_string(worst) + " of sqrt(G_ii G_jj))");
      check(symmetric, what + " symmetric");
      std::vector<double> zero(n * n, 0.0);
      check(gpu_gram(d, zero) == gpu_gram(d, zero), what + " reproducible");
    });
  });
}

// The sparse method's layout with the genes' scales read from shared memory
// (the default) and from global memory: the same bits.
void test_gram_scale_table(const HostShard& h, const DeviceShard& d, const std::string& label) {
  const std::string what = label + ": sparse gram, scales from shared or global memory, same bits";
  guarded(what, [&] {
    with_env("CELLSHARD_GRAM_METHOD", "sparse", [&] {
      const std::vector<double> zero(size_t(h.n_cols) * size_t(h.n_cols), 0.0);
      const std::vector<double> from_table = gpu_gram(d, zero);
      std::vector<double> from_global;
      with_env("CELLSHARD_GRAM_SCALE_TABLE", "0", [&] { from_global = gpu_gram(d, zero); });
      check(from_table == from_global, what);
    });
  });
}

void test_gram_both_methods(const HostShard& h, const DeviceShard& d, const std::string& label) {
  test_gram_method(h, d, label, "sparse");
  test_gram_method(h, d, label, "dense");
  test_gram_scale_table(h, d, label);
}

// `per_row` distinct random genes a row (few_per_row_shard) with values of
// very different sizes: gene g's values scaled by 10^(g % 7 - 3), and gene 0's
// by 1e-20 (the sparse method's per-gene fixed-point scales).
HostShard uneven_values_shard(std::mt19937_64& rng, int64_t n_rows, int64_t n_cols, int per_row) {
  HostShard s = few_per_row_shard(rng, n_rows, n_cols, per_row);
  for (size_t k = 0; k < s.values.size(); ++k) {
    const int32_t g = s.indices[k];
    s.values[k] *= g == 0 ? 1e-20f : float(std::pow(10.0, double(g % 7 - 3)));
  }
  return s;
}

void test_sparse_gram(std::mt19937_64& rng, int device, bool quick) {
  {  // one cell
    HostShard h = few_per_row_shard(rng, 1, 3000, 200);
    test_gram_both_methods(h, upload(h, device), "1x3000, one cell");
  }
  {  // more than 4,096 genes, most of them all-zero columns, an empty and a full row
    HostShard h = uneven_values_shard(rng, 300, 4500, 20);
    HostShard g;
    g.n_rows = h.n_rows + 2;
    g.n_cols = h.n_cols;
    g.indices = h.indices;
    g.values = h.values;
    g.indptr = h.indptr;
    g.indptr.push_back(g.indptr.back());  // an empty row
    for (int32_t c = 0; c < int32_t(g.n_cols); ++c) {
      g.indices.push_back(c);
      g.values.push_back(float(c % 11) - 5.0f);  // stored zeros too
    }
    g.indptr.push_back(int64_t(g.indices.size()));
    test_gram_both_methods(g, upload(g, device), "302x4500, uneven values, zero columns");
  }
  // From very sparse to dense.
  for (int per_row : {1, 6, 30, 120, 360, 600}) {
    HostShard h = few_per_row_shard(rng, 2000, 600, per_row);
    test_gram_both_methods(h, upload(h, device), "2000x600, " + std::to_string(per_row) + " a row");
  }
  {
    HostShard h = random_shard(rng, 3000, 700, 0.03, Values::Mixed);
    test_gram_both_methods(h, upload(h, device), "3000x700 mixed (zeros, negatives, empty rows)");
  }
  if (!quick) {  // several row blocks and two chunks
    HostShard h = uneven_values_shard(rng, 600000, 300, 3);
    test_gram_both_methods(h, upload(h, device), "600000x300, 3 a row (several chunks)");
  }
  guarded("sparse gram with a NaN", [&] {
    HostShard h = few_per_row_shard(rng, 50, 40, 5);
    h.values[7] = std::numeric_limits<float>::quiet_NaN();
    const int32_t g = h.indices[7];
    std::vector<double> got;
    with_env("CELLSHARD_GRAM_METHOD", "sparse", [&] {
      got = gpu_gram(upload(h, device), std::vector<double>(40 * 40, 0.0));
    });
    check(std::isnan(got[size_t(g) * 41]), "sparse gram with a NaN: NaN on its gene's diagonal");
  });
  // The automatic choice: the reference workload's HVG matrix is sparse enough.
  check(sparse_gram_is_faster(GramWork{1430156, 5000, 1430156.0 * 175 * 175}),
        "1430156 cells x 5000 genes at 3.5%: sparse Gram");
  check(!sparse_gram_is_faster(GramWork{100000, 2000, 100000.0 * 2000 * 2000}),
        "100000 dense rows of 2000 genes: dense Gram");
}

// A symmetric n x n matrix with eigenvalues `lambda`: diag(lambda) turned by
// `turns` random Householder reflections (H A H each, O(n^2)).
std::vector<double> with_spectrum(std::mt19937_64& rng, const std::vector<double>& lambda,
                                  int turns) {
  const size_t n = lambda.size();
  std::vector<double> a(n * n, 0.0), w(n);
  for (size_t i = 0; i < n; ++i) a[i + i * n] = lambda[i];
  std::normal_distribution<double> normal;
  for (int t = 0; t < turns; ++t) {
    std::vector<double> v(n);
    double len = 0;
    for (double& x : v) len += (x = normal(rng)) * x;
    for (double& x : v) x /= std::sqrt(len);
    double c = 0;
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (size_t j = 0; j < n; ++j) s += a[i + j * n] * v[j];
      w[i] = s;
      c += v[i] * s;
    }
    // (I - 2vv^T) A (I - 2vv^T) = A - 2 v w^T - 2 w v^T + 4 c v v^T
    for (size_t j = 0; j < n; ++j)
      for (size_t i = 0; i < n; ++i)
        a[i + j * n] += -2 * v[i] * w[j] - 2 * w[i] * v[j] + 4 * c * v[i] * v[j];
  }
  for (size_t j = 0; j < n; ++j)  // exactly symmetric
    for (size_t i = j + 1; i < n; ++i) a[j + i * n] = a[i + j * n];
  return a;
}

// Lanczos on the GPU against the known spectrum and cuSOLVER's syevdx:
// eigenvalues within 1e-10 of the largest, residuals ||A v - lambda v|| within
// 1e-9, orthonormal vectors, and the same vectors (up to sign) as syevdx
// where the eigenvalue is 1e-3 (of the largest) away from the others.
void test_lanczos(std::mt19937_64& rng, int device) {
  struct Case {
    std::string name;
    int64_t n;
    int k;
    std::function<double(int64_t)> lambda;  // i-th eigenvalue (any order)
    bool must_converge;
  };
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> bulk(3000);
  for (double& x : bulk) x = 1.0 + 0.2 * unit(rng);  // a flat noise bulk
  const Case cases[] = {
      {"decaying", 1500, 60, [](int64_t i) { return 1.0 + 100.0 * std::pow(0.97, double(i)); }, true},
      // k inside a uniform bulk: Lanczos stops early (the Ritz residuals say it
      // would need far more than its largest basis) and syevdx answers.
      {"spikes on a flat bulk (falls back)", 3000, 100,
       [&](int64_t i) { return i < 30 ? 3.0 + 50.0 / double(i + 1) : bulk[size_t(i)]; }, false},
      {"repeated and clustered", 2000, 100,
       [&](int64_t i) {
         if (i < 3) return 50.0;                        // a triple eigenvalue
         if (i < 5) return 40.0 - 1e-9 * double(i);     // a tight pair
         if (i >= 95 && i < 105) return 2.0;            // repeated across the k-th
         return i < 95 ? 30.0 - 0.25 * double(i) : bulk[size_t(i)];
       },
       true},
      {"rank 12 (falls back)", 1200, 40, [](int64_t i) { return i < 12 ? double(20 - i) : 0.0; }, false},
  };
  for (const Case& c : cases) {
    std::string what = "eigenpairs " + c.name + ", n = " + std::to_string(c.n);
    guarded(what, [&] {
      std::vector<double> lambda(static_cast<size_t>(c.n));
      for (int64_t i = 0; i < c.n; ++i) lambda[size_t(i)] = c.lambda(i);
      std::vector<double> a = with_spectrum(rng, lambda, 6);
      std::sort(lambda.rbegin(), lambda.rend());
      const size_t n = size_t(c.n), k = size_t(c.k);
      std::vector<double> lv(k), lvec(n * k), sv(k), svec(n * k), av(k), avec(n * k);
      LanczosReport report;
      through_device(device, a, [&](double* d) {
        LanczosOptions o;
        o.block = 16;
        report = lanczos_top_eigen_on_device(use_device(device), d, c.n, c.k, lv.data(),
                                             lvec.data(), o);
      });
      with_env("CELLSHARD_EIGEN_METHOD", "syevdx", [&] {
        through_device(device, a, [&](double* d) {
          gpu().top_eigen(device, d, c.n, c.k, sv.data(), svec.data());
        });
      });
      with_env("CELLSHARD_EIGEN_METHOD", "lanczos", [&] {  // Lanczos first, syevdx if it fails
        through_device(device, a, [&](double* d) {
          gpu().top_eigen(device, d, c.n, c.k, av.data(), avec.data());
        });
      });
      const double top = std::fabs(lambda[0]);
      bool auto_ok = true;
      for (size_t j = 0; j < k; ++j) auto_ok = auto_ok && close(av[j], lambda[j], 1e-10, top);
      check(auto_ok, what + ": top_eigen eigenvalues == the spectrum");
      if (!c.must_converge) {
        check(!report.converged, what + ": Lanczos gives up (basis " + std::to_string(report.basis) + ")");
        return;
      }
      check(report.converged, what + ": Lanczos converged (basis " + std::to_string(report.basis) +
                                  ", residual " + std::to_string(report.max_residual) + ")");
      if (!report.converged) return;
      bool values_ok = true, vectors_ok = true, residual_ok = true, orthonormal = true;
      for (size_t j = 0; j < k; ++j) {
        values_ok = values_ok && close(lv[j], lambda[j], 1e-10, top);
        const double* v = lvec.data() + j * n;
        double r2 = 0;
        for (size_t i = 0; i < n; ++i) {
          double s = 0;
          for (size_t l = 0; l < n; ++l) s += a[i + l * n] * v[l];
          r2 += (s - lv[j] * v[i]) * (s - lv[j] * v[i]);
        }
        residual_ok = residual_ok && std::sqrt(r2) <= 1e-9 * top;
        for (size_t l = 0; l <= j; ++l) {
          double dot = 0;
          for (size_t i = 0; i < n; ++i) dot += v[i] * lvec[l * n + i];
          orthonormal = orthonormal && std::fabs(dot - (l == j ? 1.0 : 0.0)) <= 1e-8;
        }
        const bool separated = (j == 0 || lambda[j - 1] - lambda[j] > 1e-3 * top) &&
                               (j + 1 == k || lambda[j] - lambda[j + 1] > 1e-3 * top);
        if (!separated) continue;
        double dot = 0;
        for (size_t i = 0; i < n; ++i) dot += v[i] * svec[j * n + i];
        vectors_ok = vectors_ok && std::fabs(std::fabs(dot) - 1.0) < 1e-10;
      }
      check(values_ok, what + ": Lanczos eigenvalues == the spectrum");
      check(residual_ok, what + ": Lanczos residuals");
      check(orthonormal, what + ": Lanczos vectors orthonormal");
      check(vectors_ok, what + ": Lanczos vectors == syevdx's up to sign");
    });
  }
}

// The shape of a single-cell PCA spectrum (the seed pipeline's Gram at
// 5,000 genes): 20 separated eigenvalues from 60 down to 1.5, then a
// Marchenko-Pastur-like bulk below 1.12 whose density grows as the square
// root of the distance from its edge (the 50th and 100th eigenvalues near
// 1.10 and 1.09 at n = 5000).
double single_cell_eigenvalue(int64_t i, int64_t n) {
  if (i < 20) return 60.0 * std::pow(1.5 / 60.0, double(i) / 19.0);
  return 1.12 - 0.485 * std::pow((double(i - 20) + 0.5) / double(n - 20), 2.0 / 3.0);
}

// Whether chefsi must hold pair j (of the exact spectrum `lambda`, decreasing)
// to its residual tolerance: its eigenvalue is more than 1% from a neighbour.
// Pairs within 1% of both may be locked by their value (value_tolerance);
// the test takes 1.05% so that Ritz values a little off the exact ones do
// not move a pair across the line.
bool held_by_residual(const std::vector<double>& lambda, size_t j) {
  const double near = 0.0105 * std::fabs(lambda[j]);
  return j == 0 || lambda[j - 1] - lambda[j] > near || j + 1 == lambda.size() ||
         lambda[j] - lambda[j + 1] > near;
}

// How far chefsi's j-th eigenvalue may be from lambda_j: what its final check
// guarantees (10 x tolerance x lambda_1), and for a pair locked by its value
// 10 x value_tolerance of it as well.
double value_bound(const std::vector<double>& lambda, size_t j, const ChefsiOptions& o) {
  const double strict = 10 * o.tolerance * std::fabs(lambda[0]);
  return held_by_residual(lambda, j) ? strict
                                     : strict + 10 * o.value_tolerance * std::fabs(lambda[j]);
}

// The pairs against the exact spectrum `lambda` (decreasing) of `a`, to
// what chefsi's final check guarantees: for a pair held by its residual
// (held_by_residual), r = 10 x tolerance x lambda_1 bounds ||A v - lambda v||
// and the distance to the exact eigenvalue, and where the eigenvalue is also
// g = 1e-3 (of the largest) away from the others, the vector is within an
// angle r / g of syevdx's (`reference`), so |dot| within (r / g)^2 / 2 of 1
// (and never looser than 1e-9). A pair locked by its value: its eigenvalue
// within value_bound. All vectors orthonormal.
void check_pairs(const std::string& what, const std::vector<double>& a,
                 const std::vector<double>& lambda, size_t k, const std::vector<double>& values,
                 const std::vector<double>& vectors, const std::vector<double>& reference,
                 const ChefsiOptions& o) {
  const size_t n = lambda.size();
  const double top = std::fabs(lambda[0]);
  const double bound = 10 * o.tolerance;  // of lambda_1
  const double angle = bound / 1e-3;
  const double dot_bound = std::max(1e-9, angle * angle / 2);
  bool values_ok = true, vectors_ok = true, residual_ok = true, orthonormal = true;
  double worst_residual = 0, worst_dot = 0, worst_value = 0;
  size_t by_value = 0;
  for (size_t j = 0; j < k; ++j) {
    const double off = std::fabs(values[j] - lambda[j]);
    if (lambda[j] != 0) worst_value = std::max(worst_value, off / std::fabs(lambda[j]));
    values_ok = values_ok && off <= value_bound(lambda, j, o);
    const bool strict = held_by_residual(lambda, j);
    by_value += strict ? 0 : 1;
    const double* v = vectors.data() + j * n;
    for (size_t l = 0; l <= j; ++l) {
      double dot = 0;
      for (size_t i = 0; i < n; ++i) dot += v[i] * vectors[l * n + i];
      orthonormal = orthonormal && std::fabs(dot - (l == j ? 1.0 : 0.0)) <= 1e-8;
    }
    if (!strict) continue;
    double r2 = 0;
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (size_t l = 0; l < n; ++l) s += a[i + l * n] * v[l];
      r2 += (s - values[j] * v[i]) * (s - values[j] * v[i]);
    }
    worst_residual = std::max(worst_residual, std::sqrt(r2) / top);
    residual_ok = residual_ok && std::sqrt(r2) <= bound * top;
    const bool separated = (j == 0 || lambda[j - 1] - lambda[j] > 1e-3 * top) &&
                           (j + 1 == k || lambda[j] - lambda[j + 1] > 1e-3 * top);
    if (!separated) continue;
    double dot = 0;
    for (size_t i = 0; i < n; ++i) dot += v[i] * reference[j * n + i];
    worst_dot = std::max(worst_dot, std::fabs(std::fabs(dot) - 1.0));
    vectors_ok = vectors_ok && std::fabs(std::fabs(dot) - 1.0) <= dot_bound;
  }
  std::printf("%s: worst eigenvalue %.2e relative, worst residual %.2e of lambda_1 (pairs held by "
              "it), worst 1 - |dot| %.2e, %zu pairs may go by value\n",
              what.c_str(), worst_value, worst_residual, worst_dot, by_value);
  check(values_ok, what + ": eigenvalues == the spectrum (worst " + std::to_string(worst_value) +
                       " relative; " + std::to_string(by_value) + " pairs may go by value)");
  check(residual_ok, what + ": residuals of the pairs held by them (worst " +
                         std::to_string(worst_residual) + " of lambda_1)");
  check(orthonormal, what + ": vectors orthonormal");
  check(vectors_ok, what + ": separated vectors == syevdx's up to sign (worst 1 - |dot| " +
                        std::to_string(worst_dot) + ")");
}

// Chebyshev-filtered subspace iteration on the GPU against the known spectrum
// and syevdx: the single-cell shape at the PCA size (and the same bits twice),
// cases that must converge, and ones where it must give up (a bulk too dense
// for its iteration limit; a sweep limit of 1) while top_eigen still answers
// right through syevdx.
void test_chefsi(std::mt19937_64& rng, int device, bool quick) {
  struct Case {
    std::string name;
    int64_t n;
    int k;
    std::function<double(int64_t)> lambda;  // i-th eigenvalue (any order)
    bool must_converge;
    int max_sweeps;
    double value_tolerance = ChefsiOptions().value_tolerance;
  };
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> bulk(3000), dense_bulk(3000);
  for (double& x : bulk) x = 1.0 + 0.2 * unit(rng);
  for (double& x : dense_bulk) x = 1.0 + 1e-4 * unit(rng);
  const Case cases[] = {
      {"single-cell shape", 5000, 100, [](int64_t i) { return single_cell_eigenvalue(i, 5000); },
       true, 40},
      {"decaying", 1500, 60, [](int64_t i) { return 1.0 + 100.0 * std::pow(0.97, double(i)); },
       true, 40},
      {"repeated and clustered", 2000, 100,
       [&](int64_t i) {
         if (i < 3) return 50.0;                        // a triple eigenvalue
         if (i < 5) return 40.0 - 1e-9 * double(i);     // a tight pair
         if (i >= 95 && i < 105) return 2.0;            // repeated across the k-th
         return i < 95 ? 30.0 - 0.25 * double(i) : bulk[size_t(i)];
       },
       true, 40},
      // 1e-4 wide: the filter would need thousands of products per vector
      // to lock the bulk by residuals
      {"spikes on a very dense bulk (gives up)", 3000, 100,
       [&](int64_t i) { return i < 30 ? 3.0 + 50.0 / double(i + 1) : dense_bulk[size_t(i)]; },
       false, 40, 0.0},
      // and by value: chefsi's answer or syevdx's, within the bounds either way
      {"spikes on a very dense bulk, by value", 3000, 100,
       [&](int64_t i) { return i < 30 ? 3.0 + 50.0 / double(i + 1) : dense_bulk[size_t(i)]; },
       false, 40},
      {"one sweep allowed (gives up)", 1500, 60,
       [](int64_t i) { return 1.0 + 100.0 * std::pow(0.97, double(i)); }, false, 1},
      {"rank 12", 1200, 40, [](int64_t i) { return i < 12 ? double(20 - i) : 0.0; }, false, 40},
  };
  for (const Case& c : cases) {
    if (quick && c.name != "decaying") continue;  // one case under compute-sanitizer
    std::string what = "chefsi " + c.name + ", n = " + std::to_string(c.n);
    guarded(what, [&] {
      std::vector<double> lambda(static_cast<size_t>(c.n));
      for (int64_t i = 0; i < c.n; ++i) lambda[size_t(i)] = c.lambda(i);
      std::vector<double> a = with_spectrum(rng, lambda, 6);
      std::sort(lambda.rbegin(), lambda.rend());
      const size_t n = size_t(c.n), k = size_t(c.k);
      std::vector<double> cv(k), cvec(n * k), sv(k), svec(n * k), tv(k), tvec(n * k);
      ChefsiOptions o;
      o.max_sweeps = c.max_sweeps;
      o.value_tolerance = c.value_tolerance;
      // chefsi with options `with` on a device copy of a; `left`: the copy after it.
      const auto solve = [&](const ChefsiOptions& with, std::vector<double>& values,
                             std::vector<double>& vectors, std::vector<double>* left) {
        ChefsiReport r;
        std::vector<double> after = through_device(device, a, [&](double* d) {
          r = chefsi_top_eigen_on_device(use_device(device), d, c.n, c.k, values.data(),
                                         vectors.data(), with);
        });
        if (left) left->swap(after);
        return r;
      };
      std::vector<double> kept;
      const ChefsiReport report = solve(o, cv, cvec, &kept);
      check(kept == a, what + ": the matrix is left as it was");
      with_env("CELLSHARD_EIGEN_METHOD", "syevdx", [&] {
        through_device(device, a, [&](double* d) {
          gpu().top_eigen(device, d, c.n, c.k, sv.data(), svec.data());
        });
      });
      const std::string value_tolerance = std::to_string(o.value_tolerance);
      with_env("CELLSHARD_EIGEN_METHOD", "chefsi", [&] {  // syevdx when it gives up
        with_env("CELLSHARD_CHEFSI_VALUE_TOLERANCE", value_tolerance.c_str(), [&] {
          through_device(device, a, [&](double* d) {
            gpu().top_eigen(device, d, c.n, c.k, tv.data(), tvec.data());
          });
        });
      });
      bool answer_ok = true;
      // Within chefsi's bounds (or syevdx's answer where it gave up).
      for (size_t j = 0; j < k; ++j)
        answer_ok = answer_ok && std::fabs(tv[j] - lambda[j]) <= value_bound(lambda, j, o);
      check(answer_ok, what + ": top_eigen eigenvalues == the spectrum");
      const std::string how = " (" + std::to_string(report.sweeps) + " sweeps, " +
                              std::to_string(double(report.products) / double(c.n)) +
                              " n products, residual " + std::to_string(report.max_residual) +
                              ", " + std::to_string(report.bulk_locked) + " locked by value)";
      std::printf("%s:%s%s\n", what.c_str(), report.converged ? "" : " gave up", how.c_str());
      if (c.must_converge) {
        check(report.converged, what + ": converged" + how);
      } else if (c.name.find("gives up") != std::string::npos) {
        check(!report.converged, what + ": gives up" + how);
      }
      if (!report.converged) return;
      check_pairs(what, a, lambda, k, cv, cvec, svec, o);
      if (c.name == "decaying") {
        // Every sweep with pairs locked on A_d written out, whatever its
        // degree: the same bounds (the one case --quick runs, so that
        // compute-sanitizer sees write_deflated).
        ChefsiOptions every = o;
        every.deflated_min_degree = 1;
        std::vector<double> ev(k), evec(n * k);
        const ChefsiReport every_report = solve(every, ev, evec, nullptr);
        check(every_report.converged && every_report.deflated_sweeps > 0,
              what + ": converged with A_d in every sweep that has pairs locked");
        if (every_report.converged)
          check_pairs(what + " (A_d in every sweep)", a, lambda, k, ev, evec, svec, every);
      }
      if (c.n != 5000) return;
      check(report.bulk_locked > 0, what + ": the bulk's pairs locked by value" + how);
      // The same bits every run, and the automatic choice takes this method.
      std::vector<double> again(k), again_vec(n * k), auto_v(k), auto_vec(n * k);
      through_device(device, a, [&](double* d) {
        chefsi_top_eigen_on_device(use_device(device), d, c.n, c.k, again.data(),
                                   again_vec.data(), o);
        gpu().top_eigen(device, d, c.n, c.k, auto_v.data(), auto_vec.data());
      });
      check(again == cv && again_vec == cvec, what + ": the same bits twice");
      check(auto_v == cv && auto_vec == cvec, what + ": top_eigen picks it by itself");
      // The long sweeps filter with A_d written out; with the locked pairs'
      // part taken apart at each step instead, the answer holds the same bounds.
      check(report.deflated_sweeps > 0, what + ": sweeps with A_d written out" + how);
      ChefsiOptions apart = o;
      apart.deflated_min_degree = 0;
      const ChefsiReport apart_report = solve(apart, again, again_vec, nullptr);
      check(apart_report.converged && apart_report.deflated_sweeps == 0,
            what + ": converged with the locked pairs apart at each step");
      if (apart_report.converged)
        check_pairs(what + " (locked pairs apart)", a, lambda, k, again, again_vec, svec, apart);
      // Under a memory budget with no room for A_d: the same answer as apart.
      std::vector<double> tight(k), tight_vec(n * k);
      ChefsiReport tight_report;
      through_device(device, a, [&](double* d) {
        struct NoBudgetAfter {  // whatever happens in the solve
          ~NoBudgetAfter() { set_memory_budget(0); }
        } no_budget_after;
        set_memory_budget(double(held_bytes(device)) + double(n * n * sizeof(double)) / 2);
        tight_report = chefsi_top_eigen_on_device(use_device(device), d, c.n, c.k, tight.data(),
                                                  tight_vec.data(), o);
      });
      check(tight_report.deflated_sweeps == 0 && tight == again && tight_vec == again_vec,
            what + ": no room for A_d under the budget: the locked pairs apart");
    });
  }
}

// Sum across every visible GPU (NCCL): each buffer ends with the total.
void test_all_reduce(std::mt19937_64& rng, int n_gpus) {
  for (int use : {1, n_gpus}) {
    std::string what = "all_reduce_sum over " + std::to_string(use) + " GPU(s)";
    guarded(what, [&] {
      const size_t count = 100003;
      std::vector<int> devices;
      std::vector<BufferPtr> buffers;
      std::vector<double*> ptrs;
      std::vector<double> want(count, 0.0);
      for (int g = 0; g < use; ++g) {
        std::vector<double> part = random_doubles(rng, count, -1.0, 1.0);
        for (size_t i = 0; i < count; ++i) want[i] += part[i];
        BufferPtr b = make_buffer(g, count * sizeof(double));
        b->upload(part.data(), b->bytes());
        devices.push_back(g);
        buffers.push_back(b);
        ptrs.push_back(b->as<double>());
      }
      all_reduce_sum(devices, ptrs, count);
      bool ok = true;
      for (int g = 0; g < use; ++g) {
        std::vector<double> got(count);
        buffers[size_t(g)]->download(got.data(), got.size() * sizeof(double));
        for (size_t i = 0; i < count; ++i) ok = ok && close(want[i], got[i], 1e-14, double(use));
      }
      check(ok, what);
    });
  }
}

// --- several threads --------------------------------------------------------

// One thread per (device, repeat), as the pipeline passes run them: results
// must not depend on other threads using the kernels at the same time.
void test_threads(const HostShard& h, int n_gpus) {
  const int n_threads = std::max(4, 2 * n_gpus);
  const size_t n = size_t(h.n_cols);
  const std::vector<int> ns = {50, 100, 200, 500};
  std::vector<double> want_gram(n * n, 0.0), want_top(ns.size() * size_t(h.n_rows));
  std::vector<double> want_moments(3 * n, 0.0);
  cpu().gram(h.view(), h.values.data(), want_gram.data());
  cpu().row_top_sums(h.view(), h.values.data(), ns, want_top.data());
  cpu().col_moments(h.view(), h.values.data(), {}, moments_at(want_moments.data(), n));

  std::vector<int> ok(size_t(n_threads), 0);
  std::vector<std::string> errors(static_cast<size_t>(n_threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < n_threads; ++t)
    threads.emplace_back([&, t] {
      try {
        DeviceShard d = upload(h, t % n_gpus);
        bool good = true;
        for (int rep = 0; rep < 3; ++rep) {
          std::vector<double> top(want_top.size());
          std::vector<double> g = gpu_gram(d, std::vector<double>(n * n, 0.0));
          gpu().row_top_sums(d.view, d.data(), ns, top.data());
          std::vector<double> moments = gpu_moments(d, {}, std::vector<double>(3 * n, 0.0));
          good = good && frobenius_distance(want_gram, g) <= 1e-10 && top == want_top &&
                 moments == want_moments;  // counts: exact sums
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

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  int n_gpus = cuda_device_count();
  if (n_gpus == 0) {
    std::printf("skipped: no CUDA device visible (cuda_device_count() == 0)\n");
    return 0;
  }
  for (int g = 0; g < n_gpus; ++g) std::printf("%s\n", cuda_device_description(g).c_str());

  std::mt19937_64 rng(20240612);
  struct Shape {
    int64_t rows, cols;
    double density;
    Values kind;
    bool gram;  // the CPU Gram costs the sum of squared row lengths
  };
  const Shape shapes[] = {
      {1, 1, 1.0, Values::Counts, true},        {7, 3, 0.0, Values::Mixed, true},
      {40, 10, 0.3, Values::Counts, true},      {40, 50, 0.2, Values::Mixed, true},
      {300, 200, 0.05, Values::Log, true},      {300, 2000, 0.05, Values::Counts, true},
      {1000, 3000, 0.02, Values::Log, false},   {500, 12000, 0.05, Values::Mixed, false},
      {20000, 2000, 0.01, Values::Counts, true}, {30000, 20, 0.3, Values::Log, true},
  };
  int index = 0;
  for (const Shape& sh : shapes) {
    if (quick && sh.rows * sh.cols > 1000000) continue;
    std::string label = std::to_string(sh.rows) + "x" + std::to_string(sh.cols) +
                        (sh.kind == Values::Counts ? " counts" : sh.kind == Values::Log ? " log" : " mixed");
    HostShard h = random_shard(rng, sh.rows, sh.cols, sh.density, sh.kind);
    int device = index++ % n_gpus;
    DeviceShard d = upload(h, device);
    test_map_values(rng, h, d, label);
    test_col_moments(rng, h, d, label, sh.kind == Values::Counts);
    test_col_moments_chunks(h, d, label);
    test_row_subset_sums(rng, h, d, label);
    test_row_top_sums(h, d, label);
    test_flag_dominant(h, d, label);
    if (sh.gram) test_gram(h, d, label);
    if (sh.gram) test_gram_both_methods(h, d, label);
    test_multiply(rng, h, d, label, {1, 7, 100, 130});
  }

  {  // the sparse multiply method
    // 3 of 2,000 columns: a density of 0.15%, far under the crossover (~10% at k = 100)
    std::string label = "3000x2000, 3 values a row";
    HostShard h = few_per_row_shard(rng, 3000, 2000, 3);
    DeviceShard d = upload(h, 0);
    for (int k : {1, 100, 130}) check(!multiply_uses_dense_rows(d.view, k), label + " takes the sparse method");
    test_multiply(rng, h, d, label, {1, 100, 130});
    // The kernel's other numbers of values loaded at once.
    for (const char* ahead : {"1", "2"})
      with_env("CELLSHARD_MULTIPLY_AHEAD", ahead, [&] {
        test_multiply(rng, h, d, label + ", " + ahead + " value(s) loaded at once", {100, 130});
      });
  }
  {  // rows longer than 32 values, in rounds of 32 (and their remainders)
    std::string label = "2000x3000, 75 values a row";
    HostShard h = few_per_row_shard(rng, 2000, 3000, 75);
    DeviceShard d = upload(h, 0);
    check(!multiply_uses_dense_rows(d.view, 100), label + " takes the sparse method");
    for (const char* ahead : {"1", "2", "4"})
      with_env("CELLSHARD_MULTIPLY_AHEAD", ahead, [&] {
        test_multiply(rng, h, d, label + ", " + ahead + " value(s) loaded at once", {100});
      });
  }

  // Chunked and blocked paths: row_top_sums sorts 2^25 values a chunk, the
  // Gram and the dense multiply densify 1 GiB a block, the sparse multiply writes
  // 128 MiB a block.
  if (!quick) {
    std::string label = "40000x2000 counts (several sort chunks)";
    HostShard h = random_shard(rng, 40000, 2000, 0.5, Values::Counts);
    DeviceShard d = upload(h, 0);
    test_row_top_sums(h, d, label);
    test_col_moments(rng, h, d, label, true);
  }
  if (!quick) {
    std::string label = "150000x1000 log (several Gram blocks)";
    HostShard h = random_shard(rng, 150000, 1000, 0.002, Values::Log);
    DeviceShard d = upload(h, 0);
    test_gram(h, d, label);
  }
  if (!quick) {
    std::string label = "400000x3000, 4 values a row, sparse (several multiply blocks)";
    HostShard h = few_per_row_shard(rng, 400000, 3000, 4);
    DeviceShard d = upload(h, n_gpus - 1);
    check(!multiply_uses_dense_rows(d.view, 100), label + " takes the sparse method");
    test_multiply(rng, h, d, label, {100});
    test_row_subset_sums(rng, h, d, label);
  }
  if (!quick) {
    std::string label = "150000x2000 log, dense (several densified blocks)";
    HostShard h = random_shard(rng, 150000, 2000, 0.2, Values::Log);
    DeviceShard d = upload(h, 0);
    for (int k : {100, 3}) check(multiply_uses_dense_rows(d.view, k), label + " takes the dense method");
    test_multiply(rng, h, d, label, {100, 3});
  }

  for (int g = 0; g < n_gpus; ++g) test_empty(g);
  HostShard mid = random_shard(rng, 2000, 400, 0.05, Values::Counts);
  test_threads(mid, n_gpus);
  test_eigenpairs_decreasing();
  for (int g = 0; g < n_gpus; ++g) test_outer_products_and_eigen(rng, g);
  test_sparse_gram(rng, 0, quick);
  if (!quick) test_lanczos(rng, 0);
  test_chefsi(rng, 0, quick);
  test_all_reduce(rng, n_gpus);
  test_col_moments_non_finite(rng, 0);

  return summary();
}
