#include "h5ad_arrays_writer.h"

#include <set>

#include "../core/errors.h"

namespace cellshard {

namespace {

void write_array(h5::Writer& w, const std::string& name, const H5adArray& a) {
  if (a.cols == 0) w.numbers(name, a.values.data(), a.values.size());
  else w.matrix(name, a.values.data(), a.rows, a.cols);
  w.encoding(name, "array", "0.2.0");
}

// "a/b/c" -> {"a", "b", "c"}; empty parts are kept (and rejected by the check).
std::vector<std::string> split_path(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = name.find('/', start);
    parts.push_back(name.substr(start, slash - start));
    if (slash == std::string::npos) return parts;
    start = slash + 1;
  }
}

}  // namespace

void check_h5ad_arrays(const std::string& who, const std::string& path, const H5adArrays& a,
                       size_t n_obs, size_t n_vars) {
  auto fail = [&](const std::string& what) { throw Error(who + ": " + path + ": " + what); };
  struct Slot { const char* group; const std::vector<H5adArray>* arrays; size_t rows; };
  for (const Slot& s : {Slot{"obsm", &a.obsm, n_obs}, Slot{"varm", &a.varm, n_vars},
                        Slot{"uns", &a.uns, 0}}) {
    std::set<std::string> names;
    bool nested = std::string(s.group) == "uns";
    for (const H5adArray& x : *s.arrays) {
      std::string label = std::string(s.group) + " '" + x.name + "'";
      bool bad_name = x.name.empty() || !names.insert(x.name).second;
      for (const std::string& part : split_path(x.name))
        bad_name = bad_name || part.empty() || (!nested && part != x.name);
      if (bad_name)
        fail(std::string(s.group) + " names must be distinct, non-empty and " +
             (nested ? "without empty parts" : "without '/'") + " ('" + x.name + "')");
      if (x.values.size() != x.rows * (x.cols ? x.cols : 1))
        fail(label + " has " + std::to_string(x.values.size()) + " values for its shape");
      if (!nested && (x.cols == 0 || x.rows != s.rows))
        fail(label + " has " + std::to_string(x.rows) + " rows but the matrix has " +
             std::to_string(s.rows) + (s.arrays == &a.obsm ? " cells" : " genes"));
    }
  }
  // An uns array cannot also be a group on the way to another ("pca" and "pca/variance").
  std::set<std::string> arrays;
  for (const H5adArray& x : a.uns) arrays.insert(x.name);
  for (const H5adArray& x : a.uns) {
    std::string prefix;
    auto parts = split_path(x.name);
    for (size_t k = 0; k + 1 < parts.size(); ++k) {
      prefix += (k ? "/" : "") + parts[k];
      if (arrays.count(prefix)) fail("uns '" + prefix + "' is both an array and a group");
    }
  }
}

void write_h5ad_arrays(h5::Writer& w, const H5adArrays& a) {
  w.group("obsm", "dict", "0.1.0");
  for (const H5adArray& x : a.obsm) write_array(w, "obsm/" + x.name, x);
  w.group("varm", "dict", "0.1.0");
  for (const H5adArray& x : a.varm) write_array(w, "varm/" + x.name, x);
  w.group("uns", "dict", "0.1.0");
  std::set<std::string> groups;
  for (const H5adArray& x : a.uns) {
    std::string name = "uns";
    auto parts = split_path(x.name);
    for (size_t k = 0; k + 1 < parts.size(); ++k) {
      name += "/" + parts[k];
      if (groups.insert(name).second) w.group(name, "dict", "0.1.0");
    }
    write_array(w, "uns/" + x.name, x);
  }
}

}  // namespace cellshard
