#include "data_frame.h"

namespace cellshard {

size_t Column::size() const {
  switch (kind) {
    case Kind::Double: return doubles.size();
    case Kind::String: return strings.size();
    default: return integers.size();
  }
}

}  // namespace cellshard
