#include "kernels/cpu/scratch.h"

#include <cstdlib>
#include <new>

namespace graft::kernels {

ScratchBuffer::ScratchBuffer(int64_t count, size_t element_size)
    : data(count > 0 ? std::calloc(static_cast<size_t>(count), element_size) : nullptr) {
  if (count > 0 && data == nullptr) throw std::bad_alloc();
}

ScratchBuffer::~ScratchBuffer() {
  std::free(data);
}

}  // namespace graft::kernels
