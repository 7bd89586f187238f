// GCC 12.2 (Debian bookworm) with AVX-512 enabled (-march=x86-64-v4, -mavx512f, -march=native on Zen 4/5
// or Skylake-SP and later) at -O2 and above: the basic-block (SLP) vectorizer loses the store of
// `p.mask = {1, 1, 1, 0}` and this prints 1 1 1 1. Correct with -fno-tree-slp-vectorize, with
// -march=x86-64-v3, at -O1, and with clang 14. graft's PadBatch test failed this way (issue 13).
#include <cstdint>
#include <cstdio>
#include <vector>

struct Encoding {
  std::vector<int64_t> ids, type_ids, mask;
};

Encoding make(std::vector<int64_t> ids) {
  Encoding e;
  e.type_ids.assign(ids.size(), 0);
  e.mask.assign(ids.size(), 1);
  e.ids = std::move(ids);
  return e;
}

int main() {
  Encoding padded = make({2, 5, 3, 0});
  padded.mask = {1, 1, 1, 0};
  const std::vector<Encoding> encodings = {padded, make({2, 3})};
  const std::vector<int64_t> expected = {1, 1, 1, 0};
  if (encodings[0].mask == expected) return 0;
  for (const int64_t value : encodings[0].mask) std::printf("%ld ", static_cast<long>(value));
  std::printf("(expected 1 1 1 0)\n");
  return 1;
}
