// Prints the instruction sets of the configuring machine's CPU that graft compiles for, as CMake list items
// (x86_64_v3, avx512), so the compiler checks run where they can. Compiled for plain x86-64.
#include <cstdio>

int main() {
  __builtin_cpu_init();
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
  const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512cd");
  std::printf("%s%s", v3 ? "x86_64_v3;" : "", v4 ? "avx512;" : "");
  return 0;
}
