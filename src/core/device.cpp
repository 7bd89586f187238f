#include "graft/core/device.h"

#include <charconv>

#include "graft/core/cuda_runtime.h"
#include "graft/core/error.h"

namespace graft {

std::string device_name(Device device) {
  switch (device.type) {
    case DeviceType::Cpu: return "cpu";
    case DeviceType::Checked: return "checked";
    case DeviceType::Cuda: return "cuda:" + std::to_string(device.index);
  }
  return "unknown";
}

Device parse_device(std::string_view text) {
  if (text == "cpu") return kCpu;
  if (text == "checked") return kChecked;
  if (text == "cuda") return {DeviceType::Cuda, 0};
  if (text.starts_with("cuda:")) {
    const std::string_view number = text.substr(5);
    int index = -1;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), index);
    if (error == std::errc() && end == number.data() + number.size() && index >= 0) return {DeviceType::Cuda, index};
  }
  throw Error("[device] unknown device '" + std::string(text) + "' (expected cpu, cuda, cuda:N or checked)");
}

void built_without_cuda(Device device) {
  throw Error("[op] graft was built without CUDA (device " + device_name(device) + ")");
}

void require_available(Device device) {
  if (device.host_memory()) return;
  const std::string reason = cuda::unavailable_reason(device);
  if (!reason.empty()) throw Error("[op] " + reason + " (device " + device_name(device) + ")");
}

}  // namespace graft
