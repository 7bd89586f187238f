#include "graft/core/cpu.h"

#include <cpuid.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace graft {
namespace {

struct Registers {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Registers cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  Registers r;
  if (__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx) == 0) return {};
  return r;
}

bool bit(uint32_t reg, int index) {
  return ((reg >> index) & 1U) != 0;
}

// The register state the OS saves on a context switch (XCR0): a unit the OS does not save cannot be used.
uint64_t os_saved_state() {
  uint32_t low = 0;
  uint32_t high = 0;
  __asm__("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (static_cast<uint64_t>(high) << 32) | low;
}

std::string brand_string() {
  if (cpuid(0x80000000).eax < 0x80000004) return "unknown x86-64 CPU";
  std::array<char, 49> brand{};
  for (uint32_t leaf = 0; leaf < 3; ++leaf) {
    const Registers r = cpuid(0x80000002 + leaf);
    std::memcpy(brand.data() + leaf * 16, &r, 16);
  }
  std::string model(brand.data());
  const size_t first = model.find_first_not_of(' ');
  return first == std::string::npos ? "unknown x86-64 CPU"
                                    : model.substr(first, model.find_last_not_of(' ') - first + 1);
}

CpuFeatures detect() {
  CpuFeatures cpu;
  cpu.model = brand_string();
  const Registers basic = cpuid(1);
  const bool os_xsave = bit(basic.ecx, 27);
  const uint64_t saved = os_xsave ? os_saved_state() : 0;
  const bool ymm_saved = (saved & 0x6U) == 0x6U;            // SSE and AVX state
  const bool zmm_saved = (saved & 0xE6U) == 0xE6U;          // and the opmask and both zmm halves
  const bool tiles_saved = (saved & 0x60000U) == 0x60000U;  // tile configuration and data
  const Registers extended = cpuid(7);
  const Registers extended1 = extended.eax >= 1 ? cpuid(7, 1) : Registers{};  // subleaf 1, where reported
  const Registers amd = cpuid(0x80000001);
  // x86-64-v2: SSE3, SSSE3, CX16, SSE4.1, SSE4.2, POPCNT, LAHF; v3 adds AVX, AVX2, BMI1/2, F16C, FMA, LZCNT, MOVBE.
  const bool v2 = bit(basic.ecx, 0) && bit(basic.ecx, 9) && bit(basic.ecx, 13) && bit(basic.ecx, 19) &&
                  bit(basic.ecx, 20) && bit(basic.ecx, 23) && bit(amd.ecx, 0);
  cpu.x86_64_v3 = v2 && ymm_saved && bit(basic.ecx, 28) /* avx */ && bit(basic.ecx, 12) /* fma */ &&
                  bit(basic.ecx, 22) /* movbe */ && bit(basic.ecx, 29) /* f16c */ && bit(extended.ebx, 3) /* bmi1 */ &&
                  bit(extended.ebx, 5) /* avx2 */ && bit(extended.ebx, 8) /* bmi2 */ && bit(amd.ecx, 5) /* lzcnt */;
  cpu.avx512 = cpu.x86_64_v3 && zmm_saved && bit(extended.ebx, 16) /* f */ && bit(extended.ebx, 17) /* dq */ &&
               bit(extended.ebx, 28) /* cd */ && bit(extended.ebx, 30) /* bw */ && bit(extended.ebx, 31) /* vl */;
  cpu.avx512_bf16 = cpu.avx512 && bit(extended1.eax, 5);
  cpu.avx512_vnni = cpu.avx512 && bit(extended.ecx, 11);
  cpu.avx_vnni = cpu.x86_64_v3 && bit(extended1.eax, 4);
  cpu.amx = tiles_saved && bit(extended.edx, 22) /* amx_bf16 */ && bit(extended.edx, 24) /* amx_tile */ &&
            bit(extended.edx, 25) /* amx_int8 */;
  return cpu;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

std::string instruction_sets(const CpuFeatures& cpu) {
  std::string names;
  const auto add = [&](bool present, const char* name) {
    if (!present) return;
    if (!names.empty()) names += ' ';
    names += name;
  };
  add(cpu.x86_64_v3, "avx2 fma");
  add(cpu.avx512, "avx512f avx512bw avx512vl avx512dq avx512cd");
  add(cpu.avx512_bf16, "avx512_bf16");
  add(cpu.avx512_vnni, "avx512_vnni");
  add(cpu.avx_vnni, "avx_vnni");
  add(cpu.amx, "amx_bf16 amx_int8 amx_tile");
  return names.empty() ? "none of avx2, avx512, amx" : names;
}

}  // namespace graft
