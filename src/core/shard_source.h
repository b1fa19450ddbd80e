// Where a shard that is kept in no memory at all comes from: its source file
// (out of core, when even host memory is short). Each pass that needs the
// shard reads it again, in the thread that stages it (core/shard_stream.h).
#pragma once
#include <cstdint>
#include <string>

namespace cellshard {

class ShardSource {
 public:
  virtual ~ShardSource() = default;
  // Reads the shard's nnz gene indices and values (the stored matrix, as the
  // reader first read it) into host memory.
  virtual void read(int32_t* indices, float* values) const = 0;
  // "cells 1-5000 of X in atlas.h5ad", for messages.
  virtual std::string describe() const = 0;
};

}  // namespace cellshard
