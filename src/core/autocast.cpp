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

void check_matmul_dtype(DType dtype, const char* where) {
  check(dtype == DType::F32 || dtype == DType::BF16, where,
        "matrix products run in F32 or BF16, not " + std::string(dtype_name(dtype)));
}

AutocastGuard::AutocastGuard(DType matmul_dtype) : previous_(matmul_dtype_of_thread) {
  check_matmul_dtype(matmul_dtype, "autocast");
  matmul_dtype_of_thread = matmul_dtype;
}

AutocastGuard::~AutocastGuard() {
  matmul_dtype_of_thread = previous_;
}

}  // namespace graft
