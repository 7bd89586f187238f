#pragma once
// Where a tensor's memory is, and so which backend computes on it (kernels/backend.h).
//   cpu      host memory, the CPU backend.
//   checked  host memory tagged as a device of its own, computed on by the CPU backend: code above the ops
//            layer cannot read it directly (Tensor::data throws), so a model, trainer or pipeline that runs
//            on it has no host-pointer shortcut left, before any GPU exists.
//   cuda:N   an NVIDIA GPU (a build with -DGRAFT_CUDA=ON); a build without CUDA, or a machine without that GPU,
//            refuses it at the first allocation.
// Copies between devices are explicit (Tensor::to(Device)); no op copies on its own.
#include <cstdint>
#include <string>
#include <string_view>

namespace graft {

enum class DeviceType : uint8_t { Cpu, Checked, Cuda };

struct Device {
  DeviceType type = DeviceType::Cpu;
  int index = 0;
  bool operator==(const Device&) const = default;
  // The host can address this device's memory (the allocator, copies and fills are host code).
  bool host_memory() const { return type != DeviceType::Cuda; }
};

inline constexpr Device kCpu{};
inline constexpr Device kChecked{DeviceType::Checked, 0};

// "cpu", "checked", "cuda:0".
std::string device_name(Device device);
// "cpu", "checked", "cuda" (= cuda:0) or "cuda:N"; graft::Error naming the text otherwise.
Device parse_device(std::string_view text);

// Throws "[op] graft was built without CUDA (device cuda:N)": what the CUDA stub says wherever it is reached.
[[noreturn]] void built_without_cuda(Device device);
// Throws "[op] <why> (device cuda:N)" for a device this build or machine cannot compute on (cuda/cuda_runtime.h:
// unavailable_reason), so that a command fails at once rather than after reading its data.
void require_available(Device device);

}  // namespace graft
