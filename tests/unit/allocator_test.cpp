// The tensor allocator's cache of large blocks: reuse, its bound (the peak of live bytes and a sixteenth, plus the
// request), and release.
#include "graft/core/allocator.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <vector>

#include "graft/core/tensor.h"

namespace graft {
namespace {

constexpr int64_t kLargeFloats = int64_t{1} << 20;  // 4 MiB, well above kCachedBlockBytes

TEST(Allocator, AFreedLargeBlockServesTheNextRequestOfItsSize) {
  release_cached_memory();
  const AllocatorStats before = allocator_stats();
  const void* first = nullptr;
  {
    const Tensor a = Tensor::empty({kLargeFloats});
    first = a.data<float>();
  }
  EXPECT_EQ(allocator_stats().cached_bytes, before.cached_bytes + kLargeFloats * sizeof(float));
  const Tensor again = Tensor::full({kLargeFloats - 1000}, 2.0F);  // a little smaller still fits
  EXPECT_EQ(again.data<float>(), first);
  EXPECT_EQ(again.data<float>()[kLargeFloats - 1001], 2.0F);
  EXPECT_EQ(allocator_stats().reused, before.reused + 1);
  EXPECT_EQ(allocator_stats().cached_bytes, before.cached_bytes);
}

TEST(Allocator, AMuchSmallerRequestDoesNotTakeALargeBlock) {
  release_cached_memory();
  { const Tensor large = Tensor::empty({4 * kLargeFloats}); }
  const AllocatorStats before = allocator_stats();
  const Tensor small = Tensor::empty({kLargeFloats});
  EXPECT_EQ(allocator_stats().fresh, before.fresh + 1);
  EXPECT_EQ(allocator_stats().reused, before.reused);
}

TEST(Allocator, LiveAndCachedBytesStayUnderTheBound) {
  release_cached_memory();
  {
    const Tensor a = Tensor::empty({2 * kLargeFloats});
    const Tensor b = Tensor::empty({2 * kLargeFloats});
  }
  const size_t peak = allocator_stats().peak_bytes;
  EXPECT_GE(peak, 4 * kLargeFloats * sizeof(float));
  // Neither cached block fits a request twice their size. Live and cached bytes are at the peak, not above it,
  // so both stay: the fresh block raises the total by its own size.
  const Tensor larger = Tensor::empty({4 * kLargeFloats});
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.cached_bytes, 4 * kLargeFloats * sizeof(float));
  EXPECT_LE(after.live_bytes + after.cached_bytes, peak + larger.nbytes());
  // One more such request: now live and cached bytes are above the peak, so cached blocks go first.
  const Tensor another = Tensor::empty({4 * kLargeFloats});
  const AllocatorStats last = allocator_stats();
  EXPECT_LT(last.cached_bytes, after.cached_bytes);
  EXPECT_LE(last.live_bytes + last.cached_bytes, after.peak_bytes + another.nbytes());
}

// Over the bound, the cached block given back longest ago goes first, not the largest: a loop of ops asks for
// the sizes it asked for most recently soonest. Evicting the largest made an int8 inference forward of
// distilbert-base fetch a quarter of its blocks afresh, and fault their pages in, on every pass.
TEST(Allocator, OverTheBoundTheLeastRecentlyReturnedBlocksGoFirst) {
  release_cached_memory();
  const Tensor kept = Tensor::empty({2 * kLargeFloats});
  {
    const Tensor recent = Tensor::empty({4 * kLargeFloats});  // given back last of the three
    const Tensor middle = Tensor::empty({2 * kLargeFloats});
    const Tensor oldest = Tensor::empty({kLargeFloats});
  }
  { const Tensor between = Tensor::empty({3 * kLargeFloats}); }  // fits no cached block: live + cached pass the peak
  const Tensor large = Tensor::empty({8 * kLargeFloats});        // evicts down to the peak
  const AllocatorStats before = allocator_stats();
  const Tensor again = Tensor::empty({4 * kLargeFloats});
  EXPECT_EQ(allocator_stats().reused, before.reused + 1);
  EXPECT_EQ(allocator_stats().fresh, before.fresh);
}

// A loop whose phases ask for different sizes: 64 MiB (the peak), 4, 64 again, then 32, each freed before the
// next. With the bound at exactly the peak, every pass evicted two cached blocks it was about to ask for and
// fetched them afresh (a bf16 training step of distilbert-base: 21 blocks, 200 MB of page faults a step); a
// sixteenth above the peak holds all three sizes from the second pass on.
TEST(Allocator, ALoopWhosePhasesAskForDifferentSizesFetchesNothingAfterItsFirstPass) {
  release_cached_memory();
  constexpr int64_t kMebiFloats = int64_t{1} << 18;
  const auto pass = [] {
    for (const int64_t mebibytes : {64, 4, 64, 32}) const Tensor phase = Tensor::empty({mebibytes * kMebiFloats});
  };
  pass();
  const AllocatorStats before = allocator_stats();
  for (int i = 0; i < 5; ++i) pass();
  EXPECT_EQ(allocator_stats().fresh, before.fresh);
  EXPECT_EQ(allocator_stats().reused, before.reused + 5 * 4);
}

TEST(Allocator, ReleaseFreesTheCache) {
  { const Tensor a = Tensor::empty({kLargeFloats}); }
  EXPECT_GT(allocator_stats().cached_bytes, 0U);
  release_cached_memory();
  EXPECT_EQ(allocator_stats().cached_bytes, 0U);
}

// The activations of one sentence through distilbert-base are 96 KiB (32 x 768 floats) and 384 KiB (32 x 3072):
// from the system allocator, glibc gave their pages back whenever a forward's frees left enough free at the top
// of its heap, and the next forward faulted them in again, about 960 pages a forward (a tenth of its time).
// From the cache, a loop of such forwards faults in none of them after the first.
TEST(Allocator, ALoopOfOneSentenceForwardsFaultsInNoneOfItsBuffersAfterTheFirst) {
  release_cached_memory();
  const auto forward = [] {
    std::vector<Tensor> activations;
    for (int layer = 0; layer < 6; ++layer) {
      for (const int64_t floats : {32 * 768, 32 * 3072, 32 * 768, 32 * 768}) {
        activations.push_back(Tensor::full({floats}, 1.0F));  // written, as a layer's output is
      }
    }
  };
  const auto page_faults = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
  };
  forward();
  const long before = page_faults();
  for (int pass = 0; pass < 20; ++pass) forward();
  // The buffers span about 1,000 pages a forward. What faults remain is the test's own small allocations, which
  // a sanitizer's allocator places afresh (AddressSanitizer: 6 a forward).
  EXPECT_LT(page_faults() - before, 20 * 20) << "page faults in 20 forwards after the first";
}

TEST(Allocator, SmallTensorsBypassTheCache) {
  release_cached_memory();
  const AllocatorStats before = allocator_stats();
  { const Tensor small = Tensor::empty({1000}); }
  EXPECT_EQ(allocator_stats().fresh, before.fresh);
  EXPECT_EQ(allocator_stats().cached_bytes, 0U);
}

}  // namespace
}  // namespace graft
