// Where a streaming reader's time went, in seconds (bench/load_parts.R):
// reading the file, checking what was read (0 where each piece is checked by
// the thread that read it: then `read` holds both), putting rows in canonical
// form, waiting for a free upload slot (the uploads are behind), and
// uploading (summed over the devices' threads, beside the rest).
#pragma once
#include <chrono>

namespace cellshard {

struct ReaderPhases {
  double read = 0;
  double check = 0;
  double canonical = 0;
  double wait = 0;
  double upload = 0;
};

// The phases of the last reader that finished (kept for benchmarks).
ReaderPhases& last_reader_phases();

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace cellshard
