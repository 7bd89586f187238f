#include "kernels/cpu/scratch.h"

#include <cstring>

#include "graft/core/allocator.h"

namespace graft::kernels {

ScratchBuffer::ScratchBuffer(int64_t count, size_t element_size, ScratchFill fill)
    : storage_(count > 0 ? allocate_storage(static_cast<size_t>(count) * element_size) : nullptr),
      data(storage_.get()) {
  if (fill == ScratchFill::Zeros && data != nullptr) std::memset(data, 0, static_cast<size_t>(count) * element_size);
}

ScratchBuffer::~ScratchBuffer() = default;

}  // namespace graft::kernels
