#include "staging_allocator.h"

#include "backend.h"
#include "errors.h"

namespace cellshard {

// Each block starts with where it came from (kPinned or kHost), so that it
// goes back to the same place; 64 bytes keep the data aligned for vector loads.
static const size_t kHeader = 64;

void* staging_allocate(size_t bytes) {
  if (bytes > size_t(-1) - kHeader) throw std::bad_array_new_length();
  const size_t total = bytes + kHeader;
  int where = kPinned;
  void* block = nullptr;
  try {
    block = backend_for(kPinned).allocate(kPinned, total);
  } catch (const OutOfMemory&) {
    block = nullptr;  // pinning refused: pageable memory still works, only slower
  }
  if (!block) {
    where = kHost;
    block = backend_for(kHost).allocate(kHost, total);
  }
  *static_cast<int*>(block) = where;
  return static_cast<char*>(block) + kHeader;
}

void staging_release(void* ptr) noexcept {
  if (!ptr) return;
  void* block = static_cast<char*>(ptr) - kHeader;
  const int where = *static_cast<int*>(block);
  backend_for(where).release(where, block);
}

}  // namespace cellshard
