// A table of per-cell or per-gene annotations (h5ad's obs / var, the feature
// and barcode files of 10x) in plain C++, for the R glue to convert.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cellshard {

struct Column {
  enum class Kind { Double, Integer, Logical, String, Factor };
  std::string name;
  Kind kind = Kind::Double;
  std::vector<double> doubles;       // Double (NaN stays NaN)
  std::vector<int32_t> integers;     // Integer; Logical (0 / 1); Factor codes (0-based, -1 = NA)
  std::vector<std::string> strings;  // String
  std::vector<uint8_t> missing;      // empty, or 1 per row where the value is NA
  std::vector<std::string> levels;   // Factor
  bool ordered = false;              // Factor

  size_t size() const;
};

struct DataFrame {
  std::vector<std::string> index;    // row names
  std::vector<Column> columns;
  // Columns that could not be read, each "name: why" (the caller may warn).
  std::vector<std::string> skipped;
};

}  // namespace cellshard
