// Writes a DataFrame as an anndata (>= 0.8) dataframe group (obs, var).
#pragma once
#include <string>

#include "data_frame.h"
#include "h5_writer.h"

namespace cellshard {

// `n_rows` is what the matrix requires; the index and every column must match.
void write_h5ad_frame(h5::Writer& w, const std::string& group, const DataFrame& df,
                      size_t n_rows);

}  // namespace cellshard
