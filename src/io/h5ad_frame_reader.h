// Reads an anndata (>= 0.8) dataframe - obs, var, raw/var - into a DataFrame.
#pragma once
#include <string>

#include "data_frame.h"
#include "h5_file.h"

namespace cellshard {

// The dataframe in `group` of an open h5ad file: its index (from attribute
// _index) and its columns in column-order. Columns of encodings this reader
// does not know are listed in `skipped` rather than failing the whole read.
DataFrame read_h5ad_frame(const h5::File& file, const std::string& group);

// Number of rows of the dataframe in `group` (length of its index), without
// reading it; -1 when the group is absent.
int64_t h5ad_frame_length(const h5::File& file, const std::string& group);

}  // namespace cellshard
