// Philox generator: known answers, reproducibility, state round trips and distribution sanity.
#include "graft/core/random.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "graft/core/error.h"
#include "graft/core/parallel.h"
#include "graft/kernels/kernels.h"
#include "test_support.h"

namespace graft {
namespace {

TEST(Philox, MatchesRandom123KnownAnswers) {
  // Random123 tests/kat_vectors, philox4x32 10.
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}), (PhiloxCounter{0x6627e8d5U, 0xe169c58dU, 0xbc57ac4cU, 0x9b00dbd8U}));
  EXPECT_EQ(philox4x32_10({0xffffffffU, 0xffffffffU, 0xffffffffU, 0xffffffffU}, {0xffffffffU, 0xffffffffU}),
            (PhiloxCounter{0x408f276dU, 0x41c83b0eU, 0xa20bc7c6U, 0x6d5451fdU}));
  EXPECT_EQ(philox4x32_10({0x243f6a88U, 0x85a308d3U, 0x13198a2eU, 0x03707344U}, {0xa4093822U, 0x299f31d0U}),
            (PhiloxCounter{0xd16cfe09U, 0x94fdccebU, 0x5001e420U, 0x24126ea1U}));
}

TEST(Generator, SeedZeroEmitsTheFirstPhiloxBlock) {
  Generator generator(0);
  EXPECT_EQ(generator.next_u32(), 0x6627e8d5U);
  EXPECT_EQ(generator.next_u64(), 0xbc57ac4cULL << 32 | 0xe169c58dULL);
}

std::vector<float> mixed_draws(Generator& generator, int count) {
  std::vector<float> draws;
  for (int i = 0; i < count; ++i) {
    draws.push_back(generator.normal());
    draws.push_back(generator.uniform());
    draws.push_back(generator.bernoulli(0.3f) ? 1.0f : 0.0f);
  }
  return draws;
}

TEST(Generator, SameSeedSameSequenceDifferentSeedDifferent) {
  Generator first(42), second(42), other(43);
  const auto draws = mixed_draws(first, 100);
  EXPECT_EQ(draws, mixed_draws(second, 100));
  EXPECT_NE(draws, mixed_draws(other, 100));
}

// fill_u32 is a faster next_u32, never a different sequence: from every position in a block, for counts that end
// inside a block, at its end and past it.
TEST(Generator, FillGivesTheWordsThatNextWouldGive) {
  for (int skip = 0; skip < 4; ++skip) {
    for (int64_t count = 0; count <= 13; ++count) {
      Generator one_by_one(99);
      Generator filled(99);
      for (int i = 0; i < skip; ++i) (void)one_by_one.next_u32(), (void)filled.next_u32();
      std::vector<uint32_t> words(static_cast<size_t>(count));
      filled.fill_u32(words.data(), count);
      for (int64_t i = 0; i < count; ++i) {
        EXPECT_EQ(words[static_cast<size_t>(i)], one_by_one.next_u32()) << "skip " << skip << ", word " << i;
      }
      EXPECT_EQ(filled.next_u32(), one_by_one.next_u32()) << "skip " << skip << ", count " << count;
      EXPECT_EQ(filled.state(), one_by_one.state());
    }
  }
}

// The dropout kernel draws its words in bulk; its masks are still uniform() < p, word for word, on every chunk.
TEST(Generator, DropoutMasksAreUniformBelowTheProbability) {
  const int64_t count = 3 * kDrawChunk + 123;
  std::vector<uint8_t> keep(static_cast<size_t>(count));
  std::vector<uint8_t> expected(static_cast<size_t>(count));
  Generator kernel_generator(5);
  Generator reference_generator(5);
  kernels::draw_dropout_keep(keep.data(), 0, count, 0.1F, kernel_generator);
  parallel_draw(expected.data(), count, reference_generator,
                [](Generator& stream) { return static_cast<uint8_t>(stream.uniform() < 0.1F ? 0 : 1); });
  EXPECT_EQ(keep, expected);
  EXPECT_EQ(kernel_generator.state(), reference_generator.state());
}

// discard(n) is n calls of next_u32, from every position in a block and across blocks.
TEST(Generator, DiscardSkipsTheWordsThatNextWouldGive) {
  for (int skip = 0; skip < 4; ++skip) {
    for (int64_t count = 0; count <= 13; ++count) {
      Generator one_by_one(7);
      Generator discarding(7);
      for (int i = 0; i < skip; ++i) (void)one_by_one.next_u32(), (void)discarding.next_u32();
      for (int64_t i = 0; i < count; ++i) (void)one_by_one.next_u32();
      discarding.discard(count);
      EXPECT_EQ(discarding.state(), one_by_one.state()) << "skip " << skip << ", count " << count;
      EXPECT_EQ(discarding.next_u32(), one_by_one.next_u32()) << "skip " << skip << ", count " << count;
    }
  }
  Generator generator;
  EXPECT_EQ(test::error_of([&] { generator.discard(-1); }), "[random] cannot discard -1 words");
}

// A part of a mask drawn alone (a data-parallel rank's rows) is that part of the whole mask: parts that start and end
// inside a draw chunk, span several, start at a chunk's first value, and are empty. The generator advances as for the
// whole mask.
TEST(Generator, APartOfADropoutMaskDrawnAloneIsThatPartOfTheWholeMask) {
  const int64_t whole = 3 * kDrawChunk + 123;
  std::vector<uint8_t> expected(static_cast<size_t>(whole));
  Generator whole_generator(11);
  kernels::draw_dropout_keep(expected.data(), 0, whole, 0.3F, whole_generator);
  const std::vector<std::pair<int64_t, int64_t>> parts = {
      {1, 6}, {kDrawChunk - 3, kDrawChunk + 7}, {kDrawChunk, 5}, {2 * kDrawChunk + 1, kDrawChunk + 122}, {9, 0}};
  for (const auto& [first, count] : parts) {
    std::vector<uint8_t> part(static_cast<size_t>(count));
    Generator part_generator(11);
    kernels::draw_dropout_keep(part.data(), first, count, 0.3F, part_generator);
    EXPECT_TRUE(std::equal(part.begin(), part.end(), expected.begin() + first)) << "values from " << first;
    EXPECT_EQ(part_generator.state(), whole_generator.state()) << "values from " << first;
  }
}

TEST(Generator, StateRoundTripContinuesExactly) {
  // Odd numbers of draws leave a half-used block and a spare normal in the state.
  for (int warmup : {0, 1, 3, 5}) {
    Generator generator(7);
    for (int i = 0; i < warmup; ++i) generator.normal();
    generator.next_u32();
    const std::vector<uint64_t> saved = generator.state();
    const auto expected = mixed_draws(generator, 50);
    Generator restored(999);
    restored.set_state(saved);
    EXPECT_EQ(mixed_draws(restored, 50), expected) << "after " << warmup << " normals";
  }
  Generator generator;
  EXPECT_THROW(generator.set_state({1, 2}), Error);
  EXPECT_THROW(generator.set_state({1, 0, 2, 0, 0}), Error);
}

TEST(Generator, ForksAreDeterministicIndependentAndLeaveTheParent) {
  Generator parent(5);
  const std::vector<uint64_t> before = parent.state();
  Generator a = parent.fork(1), a_again = parent.fork(1), b = parent.fork(2);
  EXPECT_EQ(parent.state(), before);
  const auto draws_a = mixed_draws(a, 20);
  EXPECT_EQ(draws_a, mixed_draws(a_again, 20));
  EXPECT_NE(draws_a, mixed_draws(b, 20));
  Generator parent_copy(5);
  EXPECT_NE(draws_a, mixed_draws(parent_copy, 20));
}

TEST(Generator, DistributionsHaveTheRightMoments) {
  Generator generator(2024);
  const int count = 200'000;
  double uniform_sum = 0, normal_sum = 0, normal_sq = 0;
  int hits = 0;
  float uniform_min = 1, uniform_max = 0;
  for (int i = 0; i < count; ++i) {
    const float u = generator.uniform();
    uniform_min = std::min(uniform_min, u);
    uniform_max = std::max(uniform_max, u);
    uniform_sum += u;
    const double z = generator.normal();
    normal_sum += z;
    normal_sq += z * z;
    hits += generator.bernoulli(0.25f) ? 1 : 0;
  }
  EXPECT_GE(uniform_min, 0.0f);
  EXPECT_LT(uniform_max, 1.0f);
  EXPECT_NEAR(uniform_sum / count, 0.5, 0.005);
  EXPECT_NEAR(normal_sum / count, 0.0, 0.01);
  EXPECT_NEAR(normal_sq / count, 1.0, 0.01);
  EXPECT_NEAR(static_cast<double>(hits) / count, 0.25, 0.005);
  EXPECT_FALSE(generator.bernoulli(0.0f));
  EXPECT_TRUE(generator.bernoulli(1.0f));
}

TEST(InitNormal, DeterministicAcrossThreadCountsWithRequestedStd) {
  const int64_t numel = 100'000;
  const int threads = num_threads();
  Tensor single = Tensor::empty({numel});
  Tensor multi = Tensor::empty({numel});
  Generator first(11), second(11);
  set_num_threads(1);
  init_normal(single, 0.02f, first);
  set_num_threads(std::max(2, threads));
  init_normal(multi, 0.02f, second);
  set_num_threads(threads);
  EXPECT_EQ(single.to_float_vector(), multi.to_float_vector());
  EXPECT_EQ(first.state(), second.state());

  double sum = 0, sum_sq = 0;
  for (float v : single.to_float_vector()) {
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  EXPECT_NEAR(sum / numel, 0.0, 5e-4);
  EXPECT_NEAR(std::sqrt(sum_sq / numel), 0.02, 5e-4);

  // The next call draws fresh values.
  Tensor next = Tensor::empty({numel});
  init_normal(next, 0.02f, first);
  EXPECT_NE(next.to_float_vector(), single.to_float_vector());
}

}  // namespace
}  // namespace graft
