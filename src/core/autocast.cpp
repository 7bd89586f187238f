#include "graft/core/autocast.h"

#include <string>

#include "graft/core/error.h"

namespace graft {
namespace {
thread_local DType matmul_dtype_of_thread = DType::F32;
}  // namespace

DType autocast_dtype() {
  return matmul_dtype_of_thread;
}

AutocastGuard::AutocastGuard(DType matmul_dtype) : previous_(matmul_dtype_of_thread) {
  check(matmul_dtype == DType::F32 || matmul_dtype == DType::BF16, "autocast",
        "matrix products run in F32 or BF16, not " + std::string(dtype_name(matmul_dtype)));
  matmul_dtype_of_thread = matmul_dtype;
}

AutocastGuard::~AutocastGuard() {
  matmul_dtype_of_thread = previous_;
}

}  // namespace graft
