#pragma once
// Graft's random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"),
// a counter-based generator. Being counter-based makes forks cheap and independent (a fork is a new key),
// and makes the whole state a few integers, so a resumed run continues the exact sequence.
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "graft/core/parallel.h"
#include "graft/core/tensor.h"

namespace graft {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

// The Philox4x32-10 bijection itself, exposed for the known-answer tests.
PhiloxCounter philox4x32_10(PhiloxCounter counter, PhiloxKey key);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0);

  uint32_t next_u32();
  uint64_t next_u64();
  // The next `count` words, as `count` calls of next_u32 would give them, whole Philox blocks at a time.
  void fill_u32(uint32_t* words, int64_t count);
  // Skips the next `count` words, as `count` calls of next_u32 would, in constant time.
  void discard(int64_t count);
  float uniform();  // [0, 1), 24 random bits: uniform_from(next_u32())
  static float uniform_from(uint32_t word) { return static_cast<float>(word >> 8) * 0x1p-24F; }
  float normal();  // standard normal (Box-Muller; the second value of each pair is kept for the next call)
  bool bernoulli(float probability);  // true with the given probability

  // An independent stream, e.g. one per thread, per layer or per step: the same (generator, stream) pair
  // always gives the same fork, and forking does not advance this generator.
  Generator fork(uint64_t stream) const;

  // Everything needed to continue the sequence exactly (for checkpoints).
  std::vector<uint64_t> state() const;
  void set_state(const std::vector<uint64_t>& state);

 private:
  void refill();

  uint64_t key_ = 0;
  uint64_t counter_ = 0;  // index of the next Philox block
  PhiloxCounter block_{};
  int position_ = 4;  // next unused word of block_; 4 when block_ is spent
  bool has_spare_normal_ = false;
  float spare_normal_ = 0.0f;
};

inline constexpr int64_t kDrawChunk = int64_t{1} << 14;

// fill(stream, values + begin, size) for each chunk [begin, begin + size) of kDrawChunk values (the last may be
// shorter), on every thread: each chunk comes from its own fork of one draw of `generator`, so the values do not
// depend on the thread count.
//
// `first` > 0 draws only the values [first, first + count) of a larger draw into values[0, count): each chunk's
// stream skips the words of the values before `first`, which is exact when `fill` draws one word per value (dropout
// masks). A data-parallel rank draws its rows of one process's masks so.
template <class Value, class Fill>
void parallel_fill(Value* values, int64_t count, Generator& generator, const Fill& fill, int64_t first = 0) {
  const Generator call_streams = generator.fork(generator.next_u64());
  if (count == 0) return;
  const int64_t first_chunk = first / kDrawChunk;
  const int64_t end_chunk = (first + count + kDrawChunk - 1) / kDrawChunk;
  parallel_for(first_chunk, end_chunk, 1, [&](int64_t chunks_begin, int64_t chunks_end) {
    for (int64_t chunk = chunks_begin; chunk < chunks_end; ++chunk) {
      Generator stream = call_streams.fork(static_cast<uint64_t>(chunk));
      const int64_t begin = std::max(first, chunk * kDrawChunk);
      stream.discard(begin - chunk * kDrawChunk);
      fill(stream, values + (begin - first), std::min(first + count, (chunk + 1) * kDrawChunk) - begin);
    }
  });
}

// values[i] = draw(stream) for i in [0, count), the streams as parallel_fill's.
template <class Value, class Draw>
void parallel_draw(Value* values, int64_t count, Generator& generator, const Draw& draw) {
  parallel_fill(values, count, generator, [&draw](Generator& stream, Value* chunk, int64_t size) {
    for (int64_t i = 0; i < size; ++i) chunk[i] = draw(stream);
  });
}

// Fills an F32 tensor with normal(0, std) values, as Hugging Face's _init_weights does for Linear and
// Embedding weights (std = config.initializer_range). The values do not depend on the thread count.
void init_normal(Tensor& tensor, float std, Generator& generator);

}  // namespace graft
