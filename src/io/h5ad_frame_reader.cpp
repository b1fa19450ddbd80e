#include "h5ad_frame_reader.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "../core/errors.h"

namespace cellshard {

namespace {

std::string format_number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
    return std::to_string(int64_t(v));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

// Text as is; numbers (an integer index, numeric categories) printed.
std::vector<std::string> read_labels(const h5::Dataset& ds) {
  if (ds.type().is_string()) return ds.read_strings();
  ds.require_numbers(false);
  std::vector<std::string> out;
  if (ds.type().is_integer()) {
    for (int64_t v : ds.read_all<int64_t>()) out.push_back(std::to_string(v));
  } else {
    for (double v : ds.read_all<double>()) out.push_back(format_number(v));
  }
  return out;
}

void require_length(const h5::Dataset& ds, int64_t n, const std::string& frame) {
  int64_t len = ds.length();
  if (len != n)
    ds.fail("'" + ds.name() + "' has " + std::to_string(len) + " entries but the index of '" +
            frame + "' has " + std::to_string(n));
}

// Numbers: integers that fit R's integer become Integer, the rest Double.
Column numeric_column(const h5::Dataset& ds) {
  Column c;
  std::vector<double> v = ds.read_all<double>();
  bool fits = ds.type().is_integer();
  for (double x : v)
    if (!(x >= -2147483647.0 && x <= 2147483647.0)) fits = false;
  if (ds.type().type_class == H5T_ENUM) {
    c.kind = Column::Kind::Logical;
    for (double x : v) c.integers.push_back(x != 0);
  } else if (fits) {
    c.kind = Column::Kind::Integer;
    for (double x : v) c.integers.push_back(int32_t(x));
  } else {
    c.kind = Column::Kind::Double;
    c.doubles = std::move(v);
  }
  return c;
}

Column categorical_column(const h5::File& f, const std::string& path, int64_t n,
                          const std::string& frame) {
  Column c;
  c.kind = Column::Kind::Factor;
  h5::Group g = f.group(path);
  h5::Dataset codes = f.dataset(path + "/codes");
  h5::Dataset categories = f.dataset(path + "/categories");
  codes.require_numbers(true);
  require_length(codes, n, frame);
  categories.length();
  categories.check_plausible_size();
  c.levels = read_labels(categories);
  std::set<std::string> seen(c.levels.begin(), c.levels.end());
  if (seen.size() != c.levels.size())
    f.fail("'" + path + "/categories' holds the same category twice");
  c.ordered = g.has_attribute("ordered") && g.bool_attribute("ordered");
  std::vector<int64_t> raw = codes.read_all<int64_t>();
  int64_t n_levels = int64_t(c.levels.size());
  c.integers.resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] < -1 || raw[i] >= n_levels)
      f.fail("'" + path + "/codes' holds " + std::to_string(raw[i]) + " at row " +
             std::to_string(i + 1) + ", outside [-1, " + std::to_string(n_levels) + ")");
    c.integers[i] = int32_t(raw[i]);
  }
  return c;
}

// nullable-integer / nullable-boolean / nullable-string-array: values + mask.
Column nullable_column(const h5::File& f, const std::string& path, int64_t n,
                       const std::string& frame, const std::string& encoding) {
  h5::Dataset values = f.dataset(path + "/values");
  h5::Dataset mask = f.dataset(path + "/mask");
  require_length(values, n, frame);
  require_length(mask, n, frame);
  mask.require_numbers(true);
  values.check_plausible_size();
  mask.check_plausible_size();
  Column c;
  if (encoding == "nullable-string-array") {
    c.kind = Column::Kind::String;
    c.strings = values.read_strings();
  } else {
    values.require_numbers(encoding == "nullable-boolean");
    c = numeric_column(values);
    if (encoding == "nullable-boolean" && c.kind != Column::Kind::Logical) {
      c.kind = Column::Kind::Logical;
      for (auto& x : c.integers) x = x != 0;
    }
  }
  std::vector<uint8_t> m = mask.read_all<uint8_t>();
  bool any = false;
  for (auto& x : m) any |= (x = x != 0);
  if (any) {
    if (c.kind == Column::Kind::Double)
      for (size_t i = 0; i < m.size(); ++i)
        if (m[i]) c.doubles[i] = std::numeric_limits<double>::quiet_NaN();
    c.missing = std::move(m);
  }
  return c;
}

}  // namespace

int64_t h5ad_frame_length(const h5::File& f, const std::string& group) {
  if (f.kind(group) != h5::Kind::Group) return -1;
  h5::Group g = f.group(group);
  if (!g.has_attribute("_index")) return -1;
  std::string index = group + "/" + g.string_attribute("_index");
  if (f.kind(index) != h5::Kind::Dataset) return -1;
  return f.dataset(index).length();
}

DataFrame read_h5ad_frame(const h5::File& f, const std::string& group) {
  h5::Kind kind = f.kind(group);
  if (kind == h5::Kind::Missing) f.fail("group '" + group + "' is missing");
  if (kind == h5::Kind::Dataset)
    f.fail("'" + group + "' is stored as one table, the layout of anndata before 0.7, which is "
           "not supported; write the file again with anndata >= 0.8");
  h5::Group g = f.group(group);
  std::string encoding = g.encoding_type();
  if (encoding.empty())
    f.fail("'" + group + "' has no encoding-type attribute: a layout of anndata before 0.8, "
           "which is not supported; write the file again with anndata >= 0.8");
  if (encoding != "dataframe")
    f.fail("'" + group + "' has encoding-type '" + encoding + "', expected 'dataframe'");
  std::string index_name = g.string_attribute("_index");
  h5::Dataset index = f.dataset(group + "/" + index_name);
  index.check_plausible_size();
  DataFrame df;
  df.index = read_labels(index);
  int64_t n = int64_t(df.index.size());

  std::vector<std::string> order;
  if (g.has_attribute("column-order")) {
    order = g.strings_attribute("column-order");
  } else {
    for (const auto& m : g.members())
      if (m != index_name && m != "__categories") order.push_back(m);
  }
  for (const std::string& name : order) {
    std::string path = group + "/" + name;
    h5::Kind k = f.kind(path);
    if (k == h5::Kind::Missing)
      f.fail("column '" + name + "' listed in the column-order of '" + group + "' is missing");
    Column c;
    if (k == h5::Kind::Dataset) {
      h5::Dataset ds = f.dataset(path);
      if (ds.has_attribute("categories")) {
        df.skipped.push_back(name + ": a categorical in the layout of anndata before 0.8");
        continue;
      }
      if (ds.rank() != 1) {
        df.skipped.push_back(name + ": not a one-dimensional column");
        continue;
      }
      require_length(ds, n, group);
      ds.check_plausible_size();
      if (ds.type().is_string()) {
        c.kind = Column::Kind::String;
        c.strings = ds.read_strings();
      } else if (ds.type().is_number()) {
        c = numeric_column(ds);
      } else {
        df.skipped.push_back(name + ": values of type " + ds.type().describe());
        continue;
      }
    } else if (k == h5::Kind::Group) {
      std::string enc = f.group(path).encoding_type();
      if (enc == "categorical") {
        c = categorical_column(f, path, n, group);
      } else if (enc == "nullable-integer" || enc == "nullable-boolean" ||
                 enc == "nullable-string-array") {
        c = nullable_column(f, path, n, group, enc);
      } else {
        df.skipped.push_back(name + ": encoding '" + enc + "' is not supported");
        continue;
      }
    } else {
      df.skipped.push_back(name + ": neither a dataset nor a group");
      continue;
    }
    c.name = name;
    df.columns.push_back(std::move(c));
  }
  return df;
}

}  // namespace cellshard
