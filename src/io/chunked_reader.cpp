#include "chunked_reader.h"

#include "../core/errors.h"
#include "reader_phases.h"

namespace cellshard {

ReaderPhases& last_reader_phases() {
  static ReaderPhases phases;
  return phases;
}

int64_t ChunkedReader::step(int64_t n) {
  if (!failure_.empty()) throw Error(failure_);
  if (finished_) throw Error("this reader has already handed over its matrix");
  try {
    for (int64_t i = 0; i < n && done_ < total_; ++i) {
      do_step();
      ++done_;
    }
  } catch (const std::exception& e) {
    failure_ = e.what();
    throw;
  }
  return done_;
}

MatrixPtr ChunkedReader::finish() {
  step(total_ - done_);
  finished_ = true;
  try {
    return do_finish();
  } catch (const std::exception& e) {
    failure_ = e.what();
    throw;
  }
}

}  // namespace cellshard
