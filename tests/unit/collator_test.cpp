// Collators: dynamic padding (DataCollatorWithPadding), label tensors, and BERT's 80/10/10 masking
// (DataCollatorForLanguageModeling).
#include "graft/data/collator.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "graft/core/error.h"
#include "test_support.h"

namespace graft {
namespace {

constexpr int64_t kPad = 0;
constexpr int64_t kCls = 2;
constexpr int64_t kSep = 3;
constexpr int64_t kMask = 4;
constexpr int64_t kVocab = 30522;

Encoding encoding_of(std::vector<int64_t> ids, std::vector<int64_t> type_ids = {}) {
  Encoding encoding;
  if (type_ids.empty()) type_ids.assign(ids.size(), 0);
  encoding.attention_mask.assign(ids.size(), 1);
  encoding.ids = std::move(ids);
  encoding.type_ids = std::move(type_ids);
  return encoding;
}

std::vector<const Encoding*> pointers_to(const std::vector<Encoding>& encodings) {
  std::vector<const Encoding*> pointers;
  for (const Encoding& encoding : encodings) pointers.push_back(&encoding);
  return pointers;
}

TEST(PadBatch, PadsToTheLongestWithPadIdZeroMaskAndZeroSegment) {
  const std::vector<Encoding> encodings = {encoding_of({2, 5, 6, 3}), encoding_of({2, 7, 3, 8, 3}, {0, 0, 0, 1, 1})};
  const Batch batch = pad_batch(pointers_to(encodings), 9);
  ASSERT_EQ(batch.input_ids.shape(), (Shape{2, 5}));
  EXPECT_EQ(batch.input_ids.dtype(), DType::I64);
  EXPECT_EQ(batch.input_ids.to_int_vector(), (std::vector<int64_t>{2, 5, 6, 3, 9, 2, 7, 3, 8, 3}));
  EXPECT_EQ(batch.attention_mask.to_int_vector(), (std::vector<int64_t>{1, 1, 1, 1, 0, 1, 1, 1, 1, 1}));
  EXPECT_EQ(batch.token_type_ids.to_int_vector(), (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 1, 1}));
  EXPECT_FALSE(batch.labels.numel() > 0);
}

TEST(PadBatch, KeepsTheMaskOfAnAlreadyPaddedEncoding) {
  Encoding padded = encoding_of({2, 5, 3, kPad});
  padded.attention_mask = {1, 1, 1, 0};
  const std::vector<Encoding> encodings = {padded, encoding_of({2, 3})};
  const Batch batch = pad_batch(pointers_to(encodings), kPad);
  EXPECT_EQ(batch.attention_mask.to_int_vector(), (std::vector<int64_t>{1, 1, 1, 0, 1, 1, 0, 0}));
}

TEST(PadBatch, RoundsTheLengthUpToTheMultiple) {
  const auto padded_length = [](size_t longest) {
    const std::vector<Encoding> encodings = {encoding_of(std::vector<int64_t>(longest, 7)), encoding_of({2, 3})};
    return pad_batch(pointers_to(encodings), kPad, 8).input_ids.dim(1);
  };
  EXPECT_EQ(padded_length(5), 8);
  EXPECT_EQ(padded_length(8), 8);
  EXPECT_EQ(padded_length(9), 16);
  const std::vector<Encoding> encodings = {encoding_of({2, 5, 3})};
  const Batch batch = pad_batch(pointers_to(encodings), kPad, 8);
  EXPECT_EQ(batch.input_ids.to_int_vector(), (std::vector<int64_t>{2, 5, 3, 0, 0, 0, 0, 0}));
  EXPECT_EQ(batch.attention_mask.to_int_vector(), (std::vector<int64_t>{1, 1, 1, 0, 0, 0, 0, 0}));
}

TEST(PadBatch, AgreesWithTheTokenizersLongestPadding) {
  const Tokenizer tokenizer = Tokenizer::from_pretrained(test::fixtures_dir() + "/tiny-distilbert");
  const std::vector<std::string> texts = {"the quick brown fox", "hello world", "the lazy dog jumped over the fox !"};
  std::vector<Encoding> unpadded;
  for (const std::string& text : texts) unpadded.push_back(tokenizer.encode(text));
  EncodeOptions longest;
  longest.padding = Padding::Longest;
  const std::vector<Encoding> padded = tokenizer.encode_batch(texts, longest);

  const Batch batch = pad_batch(pointers_to(unpadded), tokenizer.pad_id());
  std::vector<int64_t> ids, mask, type_ids;
  for (const Encoding& encoding : padded) {
    ids.insert(ids.end(), encoding.ids.begin(), encoding.ids.end());
    mask.insert(mask.end(), encoding.attention_mask.begin(), encoding.attention_mask.end());
    type_ids.insert(type_ids.end(), encoding.type_ids.begin(), encoding.type_ids.end());
  }
  EXPECT_EQ(batch.input_ids.dim(1), static_cast<int64_t>(padded[0].size()));
  EXPECT_EQ(batch.input_ids.to_int_vector(), ids);
  EXPECT_EQ(batch.attention_mask.to_int_vector(), mask);
  EXPECT_EQ(batch.token_type_ids.to_int_vector(), type_ids);
}

TEST(PadBatch, RejectsEmptyBatchesAndInconsistentEncodings) {
  EXPECT_THROW(pad_batch({}, kPad), Error);
  Encoding broken = encoding_of({2, 5, 3});
  broken.attention_mask.pop_back();
  const std::vector<Encoding> encodings = {broken};
  try {
    pad_batch(pointers_to(encodings), kPad);
    FAIL() << "expected graft::Error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "[collator] encoding 0 has 3 ids but 2 mask values and 3 type ids");
  }
  const std::vector<Encoding> fine = {encoding_of({2, 3})};
  EXPECT_THROW(pad_batch(pointers_to(fine), kPad, -8), Error);
}

Batch two_rows_of_lengths_3_and_5() {
  const std::vector<Encoding> encodings = {encoding_of({2, 5, 3}), encoding_of({2, 5, 6, 7, 3})};
  return pad_batch(pointers_to(encodings), kPad);
}

TEST(Labels, ClassLabelsAreI64PerRow) {
  Batch batch = two_rows_of_lengths_3_and_5();
  set_class_labels(batch, {1, 0});
  EXPECT_EQ(batch.labels.shape(), (Shape{2}));
  EXPECT_EQ(batch.labels.dtype(), DType::I64);
  EXPECT_EQ(batch.labels.to_int_vector(), (std::vector<int64_t>{1, 0}));
  EXPECT_THROW(set_class_labels(batch, {1, 0, 2}), Error);
}

TEST(Labels, FloatLabelsAreOneColumnForRegressionAndAMatrixForMultiLabel) {
  Batch batch = two_rows_of_lengths_3_and_5();
  set_float_labels(batch, {0.5f, -1.25f}, 1);
  EXPECT_EQ(batch.labels.shape(), (Shape{2}));
  EXPECT_EQ(batch.labels.dtype(), DType::F32);
  EXPECT_EQ(batch.labels.to_float_vector(), (std::vector<float>{0.5f, -1.25f}));
  set_float_labels(batch, {1, 0, 1, 0, 0, 1}, 3);
  EXPECT_EQ(batch.labels.shape(), (Shape{2, 3}));
  EXPECT_EQ(batch.labels.to_float_vector(), (std::vector<float>{1, 0, 1, 0, 0, 1}));
  EXPECT_THROW(set_float_labels(batch, {1, 0, 1}, 2), Error);
  EXPECT_THROW(set_float_labels(batch, {}, 0), Error);
}

TEST(Labels, TokenLabelsArePaddedWithMinus100) {
  Batch batch = two_rows_of_lengths_3_and_5();
  set_token_labels(batch, {{-100, 4, -100}, {-100, 1, 2, 2, -100}});
  EXPECT_EQ(batch.labels.shape(), (Shape{2, 5}));
  EXPECT_EQ(batch.labels.dtype(), DType::I64);
  EXPECT_EQ(batch.labels.to_int_vector(), (std::vector<int64_t>{-100, 4, -100, -100, -100, -100, 1, 2, 2, -100}));
  EXPECT_THROW(set_token_labels(batch, {{1, 2, 3, 4, 5, 6}, {1}}), Error);
  EXPECT_THROW(set_token_labels(batch, {{1}}), Error);
  Batch empty;
  EXPECT_THROW(set_class_labels(empty, {1}), Error);
}

// Rows of [CLS] body [SEP] then padding; bodies of varying lengths use ids 5..kVocab-1.
Batch masking_batch(int64_t rows, int64_t length) {
  std::vector<Encoding> encodings;
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t body = length - 2 - row % 17;
    std::vector<int64_t> ids = {kCls};
    for (int64_t i = 0; i < body; ++i) ids.push_back(5 + (row * 7919 + i * 104729) % (kVocab - 5));
    ids.push_back(kSep);
    encodings.push_back(encoding_of(std::move(ids)));
  }
  return pad_batch(pointers_to(encodings), kPad);
}

struct MaskingCounts {
  int64_t eligible = 0;
  int64_t chosen = 0;
  int64_t masked = 0;
  int64_t replaced = 0;
  int64_t unchanged = 0;
};

// Checks the invariants that hold for every draw and counts what happened.
MaskingCounts count_masking(const Batch& original, const Batch& masked) {
  const std::vector<int64_t> before = original.input_ids.to_int_vector();
  const std::vector<int64_t> after = masked.input_ids.to_int_vector();
  const std::vector<int64_t> attended = original.attention_mask.to_int_vector();
  const std::vector<int64_t> labels = masked.labels.to_int_vector();
  MaskingCounts counts;
  for (size_t i = 0; i < before.size(); ++i) {
    const bool special = attended[i] == 0 || before[i] == kCls || before[i] == kSep;
    if (special) {
      EXPECT_EQ(labels[i], -100) << "special or padding position " << i << " was chosen";
      EXPECT_EQ(after[i], before[i]) << "special or padding position " << i << " was changed";
      continue;
    }
    ++counts.eligible;
    if (labels[i] == -100) {
      EXPECT_EQ(after[i], before[i]) << "position " << i << " changed without a label";
      continue;
    }
    EXPECT_EQ(labels[i], before[i]);
    EXPECT_GE(after[i], 0);
    EXPECT_LT(after[i], kVocab);
    ++counts.chosen;
    if (after[i] == kMask) {
      ++counts.masked;
    } else if (after[i] != before[i]) {
      ++counts.replaced;
    } else {
      ++counts.unchanged;
    }
  }
  return counts;
}

TEST(MaskTokens, ChoosesFifteenPercentAndSplitsThemEightyTenTen) {
  const Batch original = masking_batch(160, 160);
  Batch batch = original;
  Generator generator(1234);
  mask_tokens(batch, {kCls, kSep, kPad}, kMask, kVocab, generator);

  ASSERT_EQ(batch.labels.shape(), original.input_ids.shape());
  EXPECT_EQ(batch.labels.dtype(), DType::I64);
  const MaskingCounts counts = count_masking(original, batch);
  ASSERT_GT(counts.eligible, 20000);
  const double chosen = static_cast<double>(counts.chosen);
  EXPECT_NEAR(chosen / static_cast<double>(counts.eligible), 0.15, 0.01);
  EXPECT_NEAR(static_cast<double>(counts.masked) / chosen, 0.8, 0.03);
  EXPECT_NEAR(static_cast<double>(counts.replaced) / chosen, 0.1, 0.03);
  EXPECT_NEAR(static_cast<double>(counts.unchanged) / chosen, 0.1, 0.03);
}

TEST(MaskTokens, LeavesTensorsThatShareTheOldIdsAlone) {
  const Batch original = masking_batch(4, 32);
  const std::vector<int64_t> before = original.input_ids.to_int_vector();
  Batch batch = original;  // shares storage with `original`
  Generator generator(7);
  mask_tokens(batch, {kCls, kSep, kPad}, kMask, kVocab, generator, {1.0, 1.0, 0.0});
  EXPECT_EQ(original.input_ids.to_int_vector(), before);
  EXPECT_NE(batch.input_ids.to_int_vector(), before);
}

TEST(MaskTokens, IsDeterministicForASeedAndDiffersForAnother) {
  const Batch original = masking_batch(8, 64);
  const auto masked_with = [&](uint64_t seed) {
    Batch batch = original;
    Generator generator(seed);
    mask_tokens(batch, {kCls, kSep, kPad}, kMask, kVocab, generator);
    return batch;
  };
  const Batch first = masked_with(42);
  const Batch again = masked_with(42);
  const Batch other = masked_with(43);
  EXPECT_EQ(first.input_ids.to_int_vector(), again.input_ids.to_int_vector());
  EXPECT_EQ(first.labels.to_int_vector(), again.labels.to_int_vector());
  EXPECT_NE(first.labels.to_int_vector(), other.labels.to_int_vector());

  Batch resumed = original;
  Generator generator(42);
  const std::vector<uint64_t> state = generator.state();
  generator.next_u64();
  generator.set_state(state);
  mask_tokens(resumed, {kCls, kSep, kPad}, kMask, kVocab, generator);
  EXPECT_EQ(resumed.labels.to_int_vector(), first.labels.to_int_vector());
}

TEST(MaskTokens, ExtremeSharesGiveExactOutcomes) {
  const Batch original = masking_batch(6, 40);
  const std::vector<int64_t> before = original.input_ids.to_int_vector();
  const auto run = [&](MaskingOptions options) {
    Batch batch = original;
    Generator generator(5);
    mask_tokens(batch, {kCls, kSep, kPad}, kMask, kVocab, generator, options);
    return std::make_pair(batch, count_masking(original, batch));
  };
  const auto [all_masked, masked_counts] = run({1.0, 1.0, 0.0});
  EXPECT_EQ(masked_counts.chosen, masked_counts.eligible);
  EXPECT_EQ(masked_counts.masked, masked_counts.eligible);

  const auto [kept, kept_counts] = run({1.0, 0.0, 0.0});
  EXPECT_EQ(kept_counts.unchanged, kept_counts.eligible);
  EXPECT_EQ(kept.input_ids.to_int_vector(), before);

  const auto [randomised, random_counts] = run({1.0, 0.0, 1.0});
  EXPECT_EQ(random_counts.chosen, random_counts.eligible);
  EXPECT_EQ(random_counts.masked + random_counts.unchanged, 0) << "a random id equal to [MASK] or the original";
  const std::vector<int64_t> ids = randomised.input_ids.to_int_vector();
  EXPECT_GT(std::set<int64_t>(ids.begin(), ids.end()).size(), 150U);

  const auto [untouched, none_counts] = run({0.0, 0.8, 0.1});
  EXPECT_EQ(none_counts.chosen, 0);
  EXPECT_EQ(untouched.labels.to_int_vector(), std::vector<int64_t>(before.size(), -100));
}

TEST(MaskTokens, ListsOnlyTheGivenSpecialsAsUntouchable) {
  Batch batch = masking_batch(2, 12);
  Generator generator(3);
  mask_tokens(batch, {kPad}, kMask, kVocab, generator, {1.0, 1.0, 0.0});
  const std::vector<int64_t> ids = batch.input_ids.to_int_vector();
  EXPECT_EQ(ids[0], kMask) << "[CLS] is maskable when it is not listed as special";
}

TEST(MaskTokens, RejectsBadArguments) {
  Batch batch = masking_batch(2, 12);
  Generator generator(3);
  EXPECT_THROW(mask_tokens(batch, {}, kVocab, kVocab, generator), Error);
  EXPECT_THROW(mask_tokens(batch, {}, kMask, kVocab, generator, {1.5, 0.8, 0.1}), Error);
  EXPECT_THROW(mask_tokens(batch, {}, kMask, kVocab, generator, {0.15, 0.8, 0.3}), Error);
  Batch empty;
  EXPECT_THROW(mask_tokens(empty, {}, kMask, kVocab, generator), Error);
}

}  // namespace
}  // namespace graft
