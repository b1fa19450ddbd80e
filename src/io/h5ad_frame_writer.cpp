#include "h5ad_frame_writer.h"

#include <algorithm>
#include <set>

#include "../core/errors.h"

namespace cellshard {

namespace {

void write_array(h5::Writer& w, const std::string& name) { w.encoding(name, "array", "0.2.0"); }

void write_string_array(h5::Writer& w, const std::string& name,
                        const std::vector<std::string>& values) {
  w.strings(name, values);
  w.encoding(name, "string-array", "0.2.0");
}

// Codes in the narrowest signed type that holds the number of categories.
void write_codes(h5::Writer& w, const std::string& name, const std::vector<int32_t>& codes,
                 size_t n_levels) {
  if (n_levels < 128) {
    std::vector<int8_t> c(codes.begin(), codes.end());
    w.numbers(name, c.data(), c.size());
  } else if (n_levels < 32768) {
    std::vector<int16_t> c(codes.begin(), codes.end());
    w.numbers(name, c.data(), c.size());
  } else {
    w.numbers(name, codes.data(), codes.size());
  }
  write_array(w, name);
}

void write_categorical(h5::Writer& w, const std::string& name, const std::vector<int32_t>& codes,
                       const std::vector<std::string>& levels, bool ordered) {
  w.group(name, "categorical", "0.2.0");
  w.bool_attribute(name, "ordered", ordered);
  write_string_array(w, name + "/categories", levels);
  write_codes(w, name + "/codes", codes, levels.size());
}

// Text with NA: categories are the distinct values, sorted (as pandas does).
void write_text_with_missing(h5::Writer& w, const std::string& name, const Column& c) {
  std::set<std::string> distinct;
  for (size_t i = 0; i < c.strings.size(); ++i)
    if (!c.missing[i]) distinct.insert(c.strings[i]);
  std::vector<std::string> levels(distinct.begin(), distinct.end());
  std::vector<int32_t> codes(c.strings.size(), -1);
  for (size_t i = 0; i < codes.size(); ++i)
    if (!c.missing[i])
      codes[i] = int32_t(std::lower_bound(levels.begin(), levels.end(), c.strings[i]) - levels.begin());
  write_categorical(w, name, codes, levels, false);
}

void write_nullable(h5::Writer& w, const std::string& name, const Column& c) {
  bool logical = c.kind == Column::Kind::Logical;
  w.group(name, logical ? "nullable-boolean" : "nullable-integer", "0.1.0");
  std::vector<int32_t> values(c.integers);
  for (size_t i = 0; i < values.size(); ++i)
    if (c.missing[i]) values[i] = 0;
  if (logical) {
    w.booleans(name + "/values", std::vector<uint8_t>(values.begin(), values.end()));
  } else {
    w.numbers(name + "/values", values.data(), values.size());
  }
  write_array(w, name + "/values");
  w.booleans(name + "/mask", c.missing);
  write_array(w, name + "/mask");
}

bool any_missing(const Column& c) {
  return std::any_of(c.missing.begin(), c.missing.end(), [](uint8_t m) { return m != 0; });
}

void write_column(h5::Writer& w, const std::string& name, const Column& c) {
  bool na = any_missing(c);
  switch (c.kind) {
    case Column::Kind::Double:
      w.numbers(name, c.doubles.data(), c.doubles.size());
      write_array(w, name);
      break;
    case Column::Kind::Integer:
    case Column::Kind::Logical:
      if (na) {
        write_nullable(w, name, c);
      } else if (c.kind == Column::Kind::Logical) {
        w.booleans(name, std::vector<uint8_t>(c.integers.begin(), c.integers.end()));
        write_array(w, name);
      } else {
        w.numbers(name, c.integers.data(), c.integers.size());
        write_array(w, name);
      }
      break;
    case Column::Kind::String:
      if (na) write_text_with_missing(w, name, c);
      else write_string_array(w, name, c.strings);
      break;
    case Column::Kind::Factor:
      write_categorical(w, name, c.integers, c.levels, c.ordered);
      break;
  }
}

}  // namespace

void write_h5ad_frame(h5::Writer& w, const std::string& group, const DataFrame& df,
                      size_t n_rows) {
  const h5::File& f = w.file();
  if (df.index.size() != n_rows)
    f.fail(group + " has " + std::to_string(df.index.size()) + " names but the matrix has " +
           std::to_string(n_rows) + (group == "obs" ? " cells" : " genes"));
  std::set<std::string> names;
  std::vector<std::string> order;
  for (const Column& c : df.columns) {
    if (c.name.empty() || c.name == "_index" || c.name.find('/') != std::string::npos)
      f.fail(group + " column '" + c.name + "': names must be non-empty, not '_index', without '/'");
    if (!names.insert(c.name).second) f.fail(group + " has two columns named '" + c.name + "'");
    if (c.size() != n_rows)
      f.fail(group + " column '" + c.name + "' has " + std::to_string(c.size()) +
             " values, expected " + std::to_string(n_rows));
    if (!c.missing.empty() && c.missing.size() != n_rows)
      f.fail("internal: NA mask of column '" + c.name + "' has the wrong length");
    if (c.kind == Column::Kind::Factor) {
      std::set<std::string> distinct(c.levels.begin(), c.levels.end());
      if (distinct.size() != c.levels.size())
        f.fail(group + " column '" + c.name + "' has repeated factor levels");
      for (int32_t code : c.integers)
        if (code < -1 || code >= int32_t(c.levels.size()))
          f.fail(group + " column '" + c.name + "' has a factor code outside its levels");
    }
    order.push_back(c.name);
  }
  w.group(group, "dataframe", "0.2.0");
  w.string_attribute(group, "_index", "_index");
  w.strings_attribute(group, "column-order", order);
  write_string_array(w, group + "/_index", df.index);
  for (const Column& c : df.columns) write_column(w, group + "/" + c.name, c);
}

}  // namespace cellshard
