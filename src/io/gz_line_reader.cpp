#include "gz_line_reader.h"

#include <cstring>

#include "../core/errors.h"

namespace cellshard {

GzLineReader::GzLineReader(std::string who, std::string path)
    : who_(std::move(who)), path_(std::move(path)) {
  gz_ = gzopen(path_.c_str(), "rb");
  if (!gz_) throw Error(who_ + ": " + path_ + ": the file does not exist or cannot be read");
  gzbuffer(gz_, 1 << 18);
}

GzLineReader::~GzLineReader() {
  if (gz_) gzclose(gz_);
}

void GzLineReader::fail(const std::string& what) const {
  std::string where = line_ > 0 ? ": line " + std::to_string(line_) : std::string();
  throw Error(who_ + ": " + path_ + where + ": " + what);
}

bool GzLineReader::next(std::string* line) {
  line->clear();
  bool got_any = false;
  for (;;) {
    char* r = gzgets(gz_, buf_, sizeof buf_);
    if (!r) {
      int err = Z_OK;
      const char* msg = gzerror(gz_, &err);
      if (err != Z_OK && err != Z_STREAM_END) {
        ++line_;
        fail(std::string("the file is truncated or damaged (zlib: ") + (msg ? msg : "error") + ")");
      }
      break;
    }
    got_any = true;
    size_t n = std::strlen(buf_);
    line->append(buf_, n);
    if (n > 0 && buf_[n - 1] == '\n') break;
    if (line->size() > (size_t(1) << 24)) {
      ++line_;
      fail("a line longer than 16 MiB: not a text file of this kind");
    }
  }
  if (!got_any) return false;
  ++line_;
  while (!line->empty() && (line->back() == '\n' || line->back() == '\r')) line->pop_back();
  return true;
}

}  // namespace cellshard
