// Reads text files line by line through zlib, which reads gzipped and plain
// files alike; errors name the file and the line.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <string>

namespace cellshard {

class GzLineReader {
 public:
  // Opens `path`; `who` starts every message ("read10xMtx").
  GzLineReader(std::string who, std::string path);
  ~GzLineReader();
  GzLineReader(const GzLineReader&) = delete;
  GzLineReader& operator=(const GzLineReader&) = delete;

  // The next line without its line break (and without a trailing '\r');
  // false at the end of the file. A damaged or truncated gzip stream fails.
  bool next(std::string* line);
  // 1-based number of the line last returned.
  int64_t line_number() const { return line_; }
  const std::string& path() const { return path_; }
  // Throws "<who>: <path>: line N: <what>" (without the line when none was read).
  [[noreturn]] void fail(const std::string& what) const;

 private:
  std::string who_, path_;
  gzFile gz_ = nullptr;
  int64_t line_ = 0;
  char buf_[1 << 16];
};

}  // namespace cellshard
