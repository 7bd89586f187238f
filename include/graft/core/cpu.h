#pragma once
// What the processor can do, read from CPUID once. The kernels choose their instruction set by it, and
// the test suite, `graft --version` and the benchmarks print it, so that every figure and every failure
// report says where it was made.
#include <string>

namespace graft {

struct CpuFeatures {
  std::string model;         // CPUID's brand string, e.g. "AMD EPYC 9B45"
  bool x86_64_v3 = false;    // AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE with the OS saving ymm state
  bool avx512 = false;       // AVX-512 F, BW, CD, DQ, VL with the OS saving zmm state: x86-64-v4
  bool avx512_bf16 = false;  // bf16 dot products in zmm (Zen 4+, Cooper Lake, Sapphire Rapids+)
  bool avx512_vnni = false;  // int8 dot products in zmm
  bool avx_vnni = false;     // int8 dot products in ymm (Alder Lake+, Zen 5)
  bool amx = false;          // AMX tiles with bf16 and int8 (Sapphire Rapids+), the OS saving tile state
};

const CpuFeatures& cpu_features();

// The instruction sets found, as /proc/cpuinfo spells them: "avx2 fma avx512f ... amx_bf16".
std::string instruction_sets(const CpuFeatures& cpu);

}  // namespace graft
