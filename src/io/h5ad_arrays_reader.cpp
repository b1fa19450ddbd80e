#include "h5ad_arrays_reader.h"

#include "h5_file.h"

namespace cellshard {

namespace {
const char* kWho = "readH5AD";

bool is_dense(const h5::File& f, const std::string& name) {
  if (f.kind(name) != h5::Kind::Dataset) return false;
  h5::Dataset d = f.dataset(name);
  return d.rank() == 2 && d.type().is_number();
}
}  // namespace

H5adObsmListing list_h5ad_obsm(const std::string& path) {
  H5adObsmListing out;
  auto f = h5::File::open(kWho, path);
  if (f->kind("obsm") != h5::Kind::Group) return out;
  for (const std::string& m : f->group("obsm").members())
    (is_dense(*f, "obsm/" + m) ? out.dense : out.skipped).push_back(m);
  return out;
}

H5adArray read_h5ad_obsm(const std::string& path, const std::string& name, size_t n_obs,
                         size_t first, size_t count) {
  auto f = h5::File::open(kWho, path);
  std::string where = "obsm/" + name;
  h5::Dataset d = f->dataset(where);
  if (!is_dense(*f, where))
    d.fail("'" + where + "' is not a two-dimensional numeric array");
  if (d.dims()[0] != n_obs)
    d.fail("'" + where + "' has " + std::to_string(d.dims()[0]) + " rows but obs has " +
           std::to_string(n_obs) + " cells");
  if (first + count > n_obs) d.fail("internal: rows beyond '" + where + "'");
  d.check_plausible_size();
  H5adArray a;
  a.name = name;
  a.rows = count;
  a.cols = size_t(d.dims()[1]);
  a.values.resize(a.rows * a.cols);
  if (!a.values.empty()) d.read_rows(a.values.data(), first, count);
  return a;
}

}  // namespace cellshard
