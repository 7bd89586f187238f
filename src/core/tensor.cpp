#include "graft/core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "graft/core/allocator.h"
#include "graft/core/cuda_runtime.h"
#include "graft/core/error.h"

namespace graft {
namespace {

// Host memory (the CPU's and the checked device's) is copied by the host; anything else by the CUDA runtime.
void copy_bytes(void* destination, Device to, const void* source, Device from, size_t bytes) {
  if (bytes == 0) return;
  if (to.host_memory() && from.host_memory()) {
    std::memcpy(destination, source, bytes);
  } else {
    cuda::copy(destination, to, source, from, bytes);
  }
}

float load_as_float(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::F32: return static_cast<const float*>(data)[i];
    case DType::F16: return half_to_float(static_cast<const uint16_t*>(data)[i]);
    case DType::BF16: return bfloat16_to_float(static_cast<const uint16_t*>(data)[i]);
    case DType::I64: return static_cast<float>(static_cast<const int64_t*>(data)[i]);
    case DType::I32: return static_cast<float>(static_cast<const int32_t*>(data)[i]);
    case DType::U8: return static_cast<float>(static_cast<const uint8_t*>(data)[i]);
    case DType::I8: return static_cast<float>(static_cast<const int8_t*>(data)[i]);
  }
  return 0.0F;
}

int64_t load_as_int(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::I64: return static_cast<const int64_t*>(data)[i];
    case DType::I32: return static_cast<const int32_t*>(data)[i];
    case DType::U8: return static_cast<const uint8_t*>(data)[i];
    case DType::I8: return static_cast<const int8_t*>(data)[i];
    default: return static_cast<int64_t>(load_as_float(data, dtype, i));
  }
}

void store(void* data, DType dtype, int64_t i, float value, int64_t integer, bool from_integer) {
  switch (dtype) {
    case DType::F32: static_cast<float*>(data)[i] = value; break;
    case DType::F16: static_cast<uint16_t*>(data)[i] = float_to_half(value); break;
    case DType::BF16: static_cast<uint16_t*>(data)[i] = float_to_bfloat16(value); break;
    case DType::I64: static_cast<int64_t*>(data)[i] = from_integer ? integer : static_cast<int64_t>(value); break;
    case DType::I32:
      static_cast<int32_t*>(data)[i] = static_cast<int32_t>(from_integer ? integer : static_cast<int64_t>(value));
      break;
    case DType::U8:
      static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(from_integer ? integer : static_cast<int64_t>(value));
      break;
    case DType::I8:
      static_cast<int8_t*>(data)[i] = static_cast<int8_t>(from_integer ? integer : static_cast<int64_t>(value));
      break;
  }
}

bool is_integer(DType dtype) {
  return dtype == DType::I64 || dtype == DType::I32 || dtype == DType::U8 || dtype == DType::I8;
}

}  // namespace

std::string shape_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) {
    check(extent >= 0, "tensor", "negative dimension in shape " + shape_string(shape));
    count *= extent;
  }
  return count;
}

Tensor Tensor::empty(Shape shape, DType dtype, Device device) {
  Tensor tensor;
  tensor.numel_ = shape_numel(shape);
  tensor.shape_ = std::move(shape);
  tensor.dtype_ = dtype;
  tensor.device_ = device;
  tensor.storage_ = allocate_storage(tensor.nbytes(), device);
  tensor.version_ = std::make_shared<std::atomic<uint64_t>>(0);
  tensor.data_ = tensor.storage_.get();
  return tensor;
}

Tensor Tensor::zeros(Shape shape, DType dtype, Device device) {
  Tensor tensor = empty(std::move(shape), dtype, device);
  tensor.zero();
  return tensor;
}

Tensor Tensor::full(Shape shape, float value, Device device) {
  Tensor tensor = empty(std::move(shape), DType::F32, device);
  tensor.fill(value);
  return tensor;
}

Tensor Tensor::from_vector(const std::vector<float>& values, Shape shape) {
  Tensor tensor = empty(std::move(shape), DType::F32);
  check(static_cast<int64_t>(values.size()) == tensor.numel(), "tensor",
        std::to_string(values.size()) + " values do not fill shape " + shape_string(tensor.shape()));
  std::copy(values.begin(), values.end(), tensor.data<float>());
  return tensor;
}

Tensor Tensor::from_vector(const std::vector<int64_t>& values, Shape shape) {
  Tensor tensor = empty(std::move(shape), DType::I64);
  check(static_cast<int64_t>(values.size()) == tensor.numel(), "tensor",
        std::to_string(values.size()) + " values do not fill shape " + shape_string(tensor.shape()));
  std::copy(values.begin(), values.end(), tensor.data<int64_t>());
  return tensor;
}

Tensor Tensor::view_of(std::shared_ptr<const void> owner, const void* data, Shape shape, DType dtype) {
  Tensor tensor;
  tensor.numel_ = shape_numel(shape);
  tensor.shape_ = std::move(shape);
  tensor.dtype_ = dtype;
  // The view is read-only by contract: graft never writes through tensors it did not allocate.
  tensor.storage_ = std::const_pointer_cast<void>(std::move(owner));
  tensor.version_ = std::make_shared<std::atomic<uint64_t>>(0);
  tensor.data_ = const_cast<void*>(data);
  tensor.borrowed_ = true;
  return tensor;
}

int64_t Tensor::dim(int index) const {
  const int rank = ndim();
  const int resolved = index < 0 ? index + rank : index;
  check(resolved >= 0 && resolved < rank, "tensor",
        "dimension " + std::to_string(index) + " out of range for shape " + shape_string(shape_));
  return shape_[static_cast<size_t>(resolved)];
}

void Tensor::check_host_access(DType expected) const {
  check(device_ == kCpu, "tensor",
        "host access to a tensor on " + device_name(device_) +
            ": compute on it with graft::ops, or copy it to the CPU first (to(kCpu))");
  check_dtype(expected);
}

void Tensor::check_dtype(DType expected) const {
  check(dtype_ == expected, "tensor",
        "expected element type " + std::string(dtype_name(expected)) + " but tensor holds " +
            std::string(dtype_name(dtype_)));
}

Tensor Tensor::reshape(Shape shape) const {
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      check(inferred < 0, "tensor", "reshape takes at most one -1");
      inferred = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0 && known > 0) shape[static_cast<size_t>(inferred)] = numel_ / known;
  check(shape_numel(shape) == numel_, "tensor",
        "cannot reshape " + shape_string(shape_) + " to " + shape_string(shape));
  Tensor result = *this;
  result.shape_ = std::move(shape);
  return result;
}

Tensor Tensor::clone() const {
  return copy_to(device_);
}

Tensor Tensor::to(Device device) const {
  return device == device_ ? *this : copy_to(device);
}

Tensor Tensor::copy_to(Device device) const {
  Tensor copy = empty(shape_, dtype_, device);
  copy_bytes(copy.data_, device, data_, device_, nbytes());
  return copy;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return clone();
  if (!device_.host_memory()) return copy_to(kCpu).to(dtype).copy_to(device_);  // conversions are host code
  Tensor result = empty(shape_, dtype, device_);
  const bool integer_source = is_integer(dtype_);
  for (int64_t i = 0; i < numel_; ++i) {
    const int64_t integer = integer_source ? load_as_int(data_, dtype_, i) : 0;
    const float value = integer_source ? static_cast<float>(integer) : load_as_float(data_, dtype_, i);
    store(result.data_, dtype, i, value, integer, integer_source);
  }
  return result;
}

void Tensor::fill(float value) {
  note_write();
  if (!device_.host_memory()) {
    Tensor host = empty(shape_, dtype_, kCpu);
    host.fill(value);
    copy_bytes(data_, device_, host.data_, kCpu, nbytes());
    return;
  }
  for (int64_t i = 0; i < numel_; ++i) store(data_, dtype_, i, value, static_cast<int64_t>(value), false);
}

void Tensor::zero() {
  note_write();
  if (nbytes() == 0) return;
  if (device_.host_memory()) {
    std::memset(data_, 0, nbytes());
  } else {
    cuda::zero(data_, device_, nbytes());
  }
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  check(ndim() >= 1 && begin >= 0 && begin <= end && end <= shape_[0], "tensor",
        "row slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range for shape " +
            shape_string(shape_));
  Shape shape = shape_;
  shape[0] = end - begin;
  Tensor result = empty(shape, dtype_, device_);
  const size_t row_bytes = shape_[0] == 0 ? 0 : nbytes() / static_cast<size_t>(shape_[0]);
  copy_bytes(result.data_, device_, static_cast<const char*>(data_) + static_cast<size_t>(begin) * row_bytes, device_,
             result.nbytes());
  return result;
}

std::vector<float> Tensor::to_float_vector() const {
  const Tensor host = to(kCpu);
  std::vector<float> values(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) values[static_cast<size_t>(i)] = load_as_float(host.data_, dtype_, i);
  return values;
}

std::vector<int64_t> Tensor::to_int_vector() const {
  const Tensor host = to(kCpu);
  std::vector<int64_t> values(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) values[static_cast<size_t>(i)] = load_as_int(host.data_, dtype_, i);
  return values;
}

float Tensor::item() const {
  check(numel_ == 1, "tensor",
        "item() of a tensor of " + std::to_string(numel_) + " values, shape " + shape_string(shape_));
  return to_float_vector()[0];
}

std::optional<NonFiniteValue> first_non_finite(const Tensor& host_f32) {
  check(host_f32.dtype() == DType::F32, "tensor", "first_non_finite reads F32 tensors");
  const float* values = host_f32.data<float>();
  for (int64_t i = 0; i < host_f32.numel(); ++i) {
    if (!std::isfinite(values[i]))
      return NonFiniteValue{i, std::isnan(values[i]) ? "nan" : values[i] > 0 ? "inf" : "-inf"};
  }
  return std::nullopt;
}

}  // namespace graft
