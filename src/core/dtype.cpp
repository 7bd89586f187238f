#include "graft/core/dtype.h"

#include "graft/core/error.h"

namespace graft {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I64: return 8;
    case DType::I32: return 4;
    case DType::U8: return 1;
    case DType::I8: return 1;
  }
  return 0;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
    case DType::I8: return "I8";
  }
  return "?";
}

DType dtype_from_name(std::string_view name) {
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::U8, DType::I8}) {
    if (dtype_name(dtype) == name) return dtype;
  }
  throw Error("[dtype] unsupported element type \"" + std::string(name) +
              "\" (graft reads F32, F16, BF16, I64, I32, U8, I8)");
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000U) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fU;
  uint32_t mantissa = bits & 0x3ffU;
  uint32_t word;
  if (exponent == 0x1f) {
    word = sign | 0x7f800000U | (mantissa << 13);
  } else if (exponent != 0) {
    word = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    word = sign;
  } else {  // subnormal: normalise the mantissa
    exponent = 113;
    while ((mantissa & 0x400U) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    word = sign | (exponent << 23) | ((mantissa & 0x3ffU) << 13);
  }
  float value;
  std::memcpy(&value, &word, sizeof value);
  return value;
}

uint16_t float_to_half(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  const uint16_t sign = static_cast<uint16_t>((word >> 16) & 0x8000U);
  const uint32_t magnitude = word & 0x7fffffffU;
  if (magnitude > 0x7f800000U) return static_cast<uint16_t>(sign | 0x7e00U);  // NaN
  if (magnitude >= 0x477ff000U) return static_cast<uint16_t>(sign | 0x7c00U);  // overflow to inf
  if (magnitude < 0x38800000U) {  // subnormal or zero in half precision
    if (magnitude < 0x33000000U) return sign;
    const uint32_t exponent = magnitude >> 23;
    const uint32_t mantissa = (magnitude & 0x7fffffU) | 0x800000U;
    const uint32_t shift = 126 - exponent;
    uint32_t half = mantissa >> (shift);
    const uint32_t remainder = mantissa & ((1U << shift) - 1);
    const uint32_t halfway = 1U << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (half & 1U))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = ((magnitude >> 13) - (112U << 10));
  const uint32_t remainder = magnitude & 0x1fffU;
  if (remainder > 0x1000U || (remainder == 0x1000U && (half & 1U))) ++half;
  return static_cast<uint16_t>(sign | half);
}

}  // namespace graft
