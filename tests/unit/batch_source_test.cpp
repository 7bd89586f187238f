// How EncodedSource deals examples into batches: every order visits each example exactly once per epoch,
// the same (epoch, index) always gives the same batch, and the length-aware orders pad far less than a
// plain shuffle on data of mixed lengths.
#include "graft/data/batch_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

namespace graft {
namespace {

// 1,000 examples of 3 to 66 tokens, in no particular order of length.
std::vector<Encoding> mixed_lengths() {
  std::vector<Encoding> encodings(1000);
  Generator generator(11);
  for (Encoding& encoding : encodings) {
    const auto length = static_cast<size_t>(3 + generator.next_u64() % 64);
    encoding.ids.assign(length, 5);
    encoding.attention_mask.assign(length, 1);
    encoding.type_ids.assign(length, 0);
  }
  return encodings;
}

EncodedSource source(BatchOrder order, int64_t batch_size = 8) {
  const std::vector<Encoding> encodings = mixed_lengths();
  Labels labels;
  labels.classes.assign(encodings.size(), 0);
  return {encodings, labels, batch_size, 0, order, 42};
}

std::vector<int64_t> epoch_order(const EncodedSource& data, int64_t epoch) {
  std::vector<int64_t> order;
  for (int64_t index = 0; index < data.batches_per_epoch(); ++index) {
    const std::vector<int64_t> members = data.members(epoch, index);
    order.insert(order.end(), members.begin(), members.end());
  }
  return order;
}

int64_t padded_tokens(const EncodedSource& data, int64_t epoch) {
  int64_t total = 0;
  for (int64_t index = 0; index < data.batches_per_epoch(); ++index)
    total += data.batch(epoch, index).input_ids.numel();
  return total;
}

int64_t length(const EncodedSource& data, int64_t example) {
  return static_cast<int64_t>(data.encodings()[static_cast<size_t>(example)].size());
}

TEST(BatchOrder, EveryOrderVisitsEachExampleOncePerEpoch) {
  for (const BatchOrder order :
       {BatchOrder::InOrder, BatchOrder::Shuffled, BatchOrder::GroupedByLength, BatchOrder::LongestFirst}) {
    const EncodedSource data = source(order);
    for (const int64_t epoch : {0, 1}) {
      std::vector<int64_t> visited = epoch_order(data, epoch);
      std::sort(visited.begin(), visited.end());
      std::vector<int64_t> all(1000);
      std::iota(all.begin(), all.end(), 0);
      EXPECT_EQ(visited, all) << "order " << static_cast<int>(order) << ", epoch " << epoch;
    }
  }
}

TEST(BatchOrder, GroupedByLengthIsSeededPerEpochAndRepeatable) {
  const EncodedSource data = source(BatchOrder::GroupedByLength);
  const std::vector<int64_t> first = epoch_order(data, 0);
  EXPECT_NE(first, epoch_order(data, 1));
  // Asking for an epoch again (a resumed run) gives the same batches, whatever was asked in between.
  EXPECT_EQ(first, epoch_order(data, 0));
  EXPECT_EQ(first, epoch_order(source(BatchOrder::GroupedByLength), 0));
}

TEST(BatchOrder, GroupedByLengthSortsWithinWindowsOfFiftyBatches) {
  const int64_t batch_size = 4;
  const EncodedSource data = source(BatchOrder::GroupedByLength, batch_size);
  const std::vector<int64_t> order = epoch_order(data, 0);
  const size_t window = 50 * batch_size;
  for (size_t begin = 0; begin < order.size(); begin += window) {
    const size_t end = std::min(order.size(), begin + window);
    for (size_t i = begin + 1; i < end; ++i) EXPECT_GE(length(data, order[i - 1]), length(data, order[i])) << i;
  }
  // Windows are drawn from a shuffle, so the epoch as a whole is not sorted.
  EXPECT_LT(length(data, order[window - 1]), length(data, order[window]));
}

TEST(BatchOrder, LengthAwareOrdersPadLittle) {
  int64_t real = 0;
  for (const Encoding& encoding : mixed_lengths()) real += static_cast<int64_t>(encoding.size());
  const int64_t shuffled = padded_tokens(source(BatchOrder::Shuffled), 0);
  const int64_t grouped = padded_tokens(source(BatchOrder::GroupedByLength), 0);
  const int64_t longest_first = padded_tokens(source(BatchOrder::LongestFirst), 0);
  // Uniform lengths in [3, 66] in batches of 8: a shuffled batch pads to about its 8-sample maximum.
  EXPECT_GT(shuffled, real * 14 / 10);
  EXPECT_LT(grouped, real * 11 / 10);
  EXPECT_LT(longest_first, real * 11 / 10);
  EXPECT_LE(longest_first, grouped);
}

TEST(BatchOrder, LongestFirstIsStableAmongEqualLengths) {
  const EncodedSource data = source(BatchOrder::LongestFirst);
  const std::vector<int64_t> order = epoch_order(data, 0);
  EXPECT_EQ(order, longest_first_order(data.encodings()));
  for (size_t i = 1; i < order.size(); ++i) {
    const int64_t previous = length(data, order[i - 1]);
    const int64_t current = length(data, order[i]);
    EXPECT_TRUE(previous > current || (previous == current && order[i - 1] < order[i])) << i;
  }
}

}  // namespace
}  // namespace graft
