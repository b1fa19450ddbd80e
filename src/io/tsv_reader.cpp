#include "tsv_reader.h"

#include "gz_line_reader.h"

namespace cellshard {

std::vector<std::vector<std::string>> read_tsv_columns(const std::string& who,
                                                       const std::string& path) {
  GzLineReader in(who, path);
  std::vector<std::vector<std::string>> cols;
  std::string line;
  size_t rows = 0, blank_run = 0;
  while (in.next(&line)) {
    if (line.empty()) {
      ++blank_run;
      continue;
    }
    if (blank_run > 0) in.fail("an empty line in the middle of the file");
    size_t field = 0, start = 0;
    for (;;) {
      size_t tab = line.find('\t', start);
      if (field == cols.size()) cols.emplace_back(rows, std::string());
      cols[field].push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
      ++field;
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    for (; field < cols.size(); ++field) cols[field].emplace_back();
    ++rows;
  }
  return cols;
}

}  // namespace cellshard
