// Tab-separated text (10x features.tsv / genes.tsv / barcodes.tsv, gzipped or not).
#pragma once
#include <string>
#include <vector>

namespace cellshard {

// The columns of a headerless tab-separated file; rows with fewer fields get
// "" in the missing ones. Blank lines at the end are ignored.
std::vector<std::vector<std::string>> read_tsv_columns(const std::string& who,
                                                       const std::string& path);

}  // namespace cellshard
