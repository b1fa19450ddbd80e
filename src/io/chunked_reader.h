// A reader that builds a sharded matrix in steps, so that the R side can show
// progress and the user can interrupt between steps (the reader's destructor
// then frees whatever was read). Every file format implements it.
#pragma once
#include <cstdint>
#include <string>

#include "../core/sharded_matrix.h"

namespace cellshard {

class ChunkedReader {
 public:
  virtual ~ChunkedReader() = default;

  // Cells (rows) and genes (columns) of the matrix being read.
  virtual int64_t n_rows() const = 0;
  virtual int64_t n_cols() const = 0;
  // The rows read are rows [first_row(), first_row() + n_rows()) of the
  // file's file_rows(): all of them unless a share was asked for (MPI).
  virtual int64_t first_row() const { return 0; }
  virtual int64_t file_rows() const { return n_rows(); }

  // Steps in all (fixed when the reader is opened) and steps done so far.
  int64_t total_steps() const { return total_; }
  int64_t steps_done() const { return done_; }

  // Does up to n more steps; returns steps_done(). A failed step leaves the
  // reader unusable: later calls repeat the first error.
  int64_t step(int64_t n);
  // Does the remaining steps and hands over the matrix (once).
  MatrixPtr finish();

 protected:
  // Performs step number steps_done(); may bring done_ forward itself when
  // fewer steps than announced turn out to be needed.
  virtual void do_step() = 0;
  // Builds the matrix after the last step.
  virtual MatrixPtr do_finish() = 0;

  int64_t total_ = 0;
  int64_t done_ = 0;

 private:
  std::string failure_;
  bool finished_ = false;
};

}  // namespace cellshard
