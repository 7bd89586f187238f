#pragma once
// A contiguous, row-major, reference-counted buffer with a shape, an element type and a device.
// Copies share storage (like torch.Tensor); clone() makes a deep copy on the same device, to(Device) one on
// another (and, as torch's .to(), shares the storage when the tensor is already there). data<T>() is host access: it
// throws for a tensor on any device but the CPU, so code above the ops layer (graft/ops/ops.h) that reads values must
// copy them to the CPU first, where the copy shows.
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graft/core/device.h"
#include "graft/core/dtype.h"

namespace graft {

using Shape = std::vector<int64_t>;

std::string shape_string(const Shape& shape);  // "[4, 32, 768]"
int64_t shape_numel(const Shape& shape);

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::I64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::I32;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::U8;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::I8;
}

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(Shape shape, DType dtype = DType::F32, Device device = kCpu);
  static Tensor zeros(Shape shape, DType dtype = DType::F32, Device device = kCpu);
  static Tensor full(Shape shape, float value, Device device = kCpu);
  // Copies the values into a new F32 or I64 tensor.
  static Tensor from_vector(const std::vector<float>& values, Shape shape);
  static Tensor from_vector(const std::vector<int64_t>& values, Shape shape);
  // Wraps memory owned elsewhere (a memory-mapped file); `owner` keeps it alive.
  static Tensor view_of(std::shared_ptr<const void> owner, const void* data, Shape shape, DType dtype);

  bool defined() const { return data_ != nullptr || numel_ == 0; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  // Negative indices count from the end, as in Python.
  int64_t dim(int index) const;
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  // Host access to the values: graft::Error unless the tensor is on the CPU.
  template <typename T>
  T* data() {
    check_host_access(dtype_of<T>());
    note_write();
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    check_host_access(dtype_of<T>());
    return static_cast<const T*>(data_);
  }
  // The address on the tensor's device, unchecked: for backends (kernels/backend.h), the ops layer that calls
  // them, and file I/O of CPU tensors. Code above the ops reads values with data<T>().
  void* raw_data() {
    note_write();
    return data_;
  }
  const void* raw_data() const { return data_; }

  // Counts the accesses that may have written the values: every non-const data<T>() and raw_data(), fill() and
  // zero(), through this tensor or any other sharing its storage. A cache of a form derived from a tensor (the
  // bf16 copy of a weight, ops.cpp) keeps the version it was made from and is stale once the count moves. A
  // write through a pointer kept from an access before the form was made is not counted: access again.
  uint64_t version() const { return version_ ? version_->load(std::memory_order_acquire) : 0; }
  // The storage's identity for such caches: its address is not reused while a weak reference to it lives, as
  // a data pointer is (the allocator hands freed blocks out again).
  std::weak_ptr<const void> storage_identity() const { return version_; }
  // Whether an op handed this tensor by value may write its result into its storage (mlx's buffer donation):
  // graft allocated the storage and no other tensor shares it, so the caller moved its last reference in.
  bool donatable() const { return !borrowed_ && storage_ != nullptr && storage_.use_count() == 1; }

  // Same storage, new shape (one dimension may be -1).
  Tensor reshape(Shape shape) const;
  Tensor clone() const;
  // Converts to another element type (a deep copy, also when the type is the same).
  Tensor to(DType dtype) const;
  // The tensor on `device`: a deep copy there, or this tensor (shared storage) when it is already there.
  Tensor to(Device device) const;
  void fill(float value);
  void zero();
  // Copies rows [begin, end) of the first dimension into a new tensor.
  Tensor slice_rows(int64_t begin, int64_t end) const;
  // Values as fp32 / int64 regardless of storage type, copied to the host from any device (for tests, small
  // tensors and results).
  std::vector<float> to_float_vector() const;
  std::vector<int64_t> to_int_vector() const;
  // The one value of a one-element tensor, copied to the host (a loss).
  float item() const;

 private:
  void check_dtype(DType expected) const;
  void check_host_access(DType expected) const;
  Tensor copy_to(Device device) const;
  void note_write() {
    if (version_) version_->fetch_add(1, std::memory_order_acq_rel);
  }

  std::shared_ptr<void> storage_;
  std::shared_ptr<std::atomic<uint64_t>> version_;  // one per storage, shared by the tensors that share it
  void* data_ = nullptr;
  Shape shape_;
  int64_t numel_ = 0;
  bool borrowed_ = false;  // view_of: the memory is another owner's, read-only
  DType dtype_ = DType::F32;
  Device device_ = kCpu;
};

// The first NaN or infinity of an F32 tensor on the host, spelled "nan", "inf" or "-inf"; nothing when every
// element is finite. The loaders and the pipelines refuse such values instead of passing them on.
struct NonFiniteValue {
  int64_t index;
  const char* spelling;
};
std::optional<NonFiniteValue> first_non_finite(const Tensor& host_f32);

}  // namespace graft
