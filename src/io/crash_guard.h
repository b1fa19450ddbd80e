// Keeps a damaged file from taking the whole R session down. libhdf5 1.10
// decodes some parts of a file without bounds checks (fuzzing found crashes
// in H5Dopen's message decoding, in enum type handling and in free() after
// damaged headers) - beyond what h5_header_check.h and h5_vlen_strings.h
// catch. So before a file is read for real, a forked child process reads its
// structure (everything but the matrix values); if the child dies of a
// signal, the file is reported as damaged instead of being read.
#pragma once
#include <functional>
#include <string>

namespace cellshard {

// Runs `walk` (which reads `path`) in a forked child unless this version of
// the file (path, size, modification time) passed before. Throws Error when
// the child is killed by a signal; a clean error in the child is left for
// the real read to report. Does nothing where fork() is unavailable or fails,
// or when the environment variable CELLSHARD_NO_CRASH_GUARD is set.
void run_crash_guard(const std::string& who, const std::string& path,
                     const std::function<void()>& walk);

}  // namespace cellshard
