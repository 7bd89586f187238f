// Packed (unpadded) batches for inference (data/batch.h, collator.h's pack_batch): every head's output for a
// sequence equals the padded batch's at its real tokens, in fp32, bf16 and int8; the errors for what a packed
// batch cannot do name it.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "graft/core/autocast.h"
#include "graft/core/grad_mode.h"
#include "graft/data/collator.h"
#include "graft/models/model.h"
#include "graft/ops/ops.h"
#include "graft/pipelines/feature_extraction.h"
#include "test_support.h"

namespace graft {
namespace {

// Sequences of 9, 3 and 6 tokens; the BERT ones with a second segment.
std::vector<Encoding> mixed_lengths() {
  const std::vector<std::vector<int64_t>> ids = {{2, 40, 41, 42, 43, 44, 45, 46, 3}, {2, 50, 3}, {2, 60, 61, 3, 62, 3}};
  std::vector<Encoding> encodings;
  for (const auto& sequence : ids) {
    Encoding encoding;
    encoding.ids = sequence;
    encoding.attention_mask.assign(sequence.size(), 1);
    encoding.type_ids.assign(sequence.size(), 0);
    for (size_t t = sequence.size() / 2; t < sequence.size(); ++t) encoding.type_ids[t] = 1;
    encodings.push_back(std::move(encoding));
  }
  return encodings;
}

std::vector<const Encoding*> pointers(const std::vector<Encoding>& encodings) {
  std::vector<const Encoding*> rows;
  for (const Encoding& encoding : encodings) rows.push_back(&encoding);
  return rows;
}

// The padded [B, T, C] tensor's real rows, one sequence after another: [N, C].
Tensor real_tokens(const Tensor& padded, const std::vector<Encoding>& encodings) {
  const int64_t width = padded.dim(1);
  const int64_t channels = padded.dim(2);
  std::vector<float> rows;
  for (size_t b = 0; b < encodings.size(); ++b) {
    const float* first = padded.data<float>() + static_cast<int64_t>(b) * width * channels;
    rows.insert(rows.end(), first, first + static_cast<int64_t>(encodings[b].size()) * channels);
  }
  return Tensor::from_vector(rows, {static_cast<int64_t>(rows.size()) / channels, channels});
}

struct Outputs {
  ModelOutput padded;
  ModelOutput packed;
};

Outputs run_both(const Model& model, const std::vector<Encoding>& encodings) {
  const NoGradGuard no_grad;
  ForwardContext padded_context;
  ForwardContext packed_context;
  return {model.forward(pad_batch(pointers(encodings), 0), padded_context),
          model.forward(pack_batch(pointers(encodings)), packed_context)};
}

// fp32: only the GEMMs' blocking differs between the two layouts.
constexpr double kFp32Tolerance = 2e-5;

struct Case {
  const char* fixture;
  TaskHead task;
};

void PrintTo(const Case& value, std::ostream* out) { *out << value.fixture << " head " << static_cast<int>(value.task); }

class PackedBatch : public ::testing::TestWithParam<Case> {};

TEST_P(PackedBatch, EqualsThePaddedBatchAtTheRealTokens) {
  LoadOptions options;
  options.task = GetParam().task;
  const auto model = Model::from_pretrained(test::fixtures_dir() + "/" + GetParam().fixture, options);
  model->set_training(false);
  const std::vector<Encoding> encodings = mixed_lengths();
  const Outputs out = run_both(*model, encodings);
  EXPECT_TENSOR_NEAR(out.packed.encoder.last_hidden_state, real_tokens(out.padded.encoder.last_hidden_state, encodings),
                     kFp32Tolerance);
  if (out.padded.encoder.pooled.numel() > 0) {
    EXPECT_TENSOR_NEAR(out.packed.encoder.pooled, out.padded.encoder.pooled, kFp32Tolerance);
  }
  if (GetParam().task == TaskHead::SequenceClassification) {
    EXPECT_TENSOR_NEAR(out.packed.logits, out.padded.logits, kFp32Tolerance);
  } else if (GetParam().task != TaskHead::Base) {
    EXPECT_TENSOR_NEAR(out.packed.logits, real_tokens(out.padded.logits, encodings), kFp32Tolerance);
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const char* heads[] = {"Base", "SequenceClassification", "TokenClassification", "MaskedLM", "QuestionAnswering"};
  return std::string(std::string(info.param.fixture) == "tiny-bert" ? "Bert" : "DistilBert") +
         heads[static_cast<int>(info.param.task)];
}

INSTANTIATE_TEST_SUITE_P(EveryHead, PackedBatch,
                         ::testing::Values(Case{"tiny-distilbert", TaskHead::Base},
                                           Case{"tiny-distilbert", TaskHead::SequenceClassification},
                                           Case{"tiny-distilbert", TaskHead::TokenClassification},
                                           Case{"tiny-distilbert", TaskHead::MaskedLM},
                                           Case{"tiny-distilbert", TaskHead::QuestionAnswering},
                                           Case{"tiny-bert", TaskHead::Base},
                                           Case{"tiny-bert", TaskHead::SequenceClassification},
                                           Case{"tiny-bert", TaskHead::TokenClassification},
                                           Case{"tiny-bert", TaskHead::MaskedLM},
                                           Case{"tiny-bert", TaskHead::QuestionAnswering}),
                         case_name);

// bf16 products and int8 linears round each token's values the same way in either layout.
TEST(PackedBatchPrecision, Bf16AndInt8EqualThePaddedBatch) {
  LoadOptions options;
  options.task = TaskHead::TokenClassification;
  const auto model = Model::from_pretrained(test::fixtures_dir() + "/tiny-bert", options);
  model->set_training(false);
  const std::vector<Encoding> encodings = mixed_lengths();
  {
    const AutocastGuard bf16(DType::BF16);
    const Outputs out = run_both(*model, encodings);
    EXPECT_TENSOR_NEAR(out.packed.logits, real_tokens(out.padded.logits, encodings), 1e-3);
  }
  model->quantize_int8();
  const Outputs out = run_both(*model, encodings);
  EXPECT_TENSOR_NEAR(out.packed.logits, real_tokens(out.padded.logits, encodings), kFp32Tolerance);
}

TEST(PackedBatchErrors, NameWhatAPackedBatchCannotDo) {
  const auto model = Model::from_pretrained(test::fixtures_dir() + "/tiny-distilbert");
  model->set_training(false);
  const std::vector<Encoding> encodings = mixed_lengths();
  const Batch packed = pack_batch(pointers(encodings));
  ForwardContext context;
  EXPECT_EQ(test::error_of([&] { model->forward(packed, context); }),
            "[model] a packed batch is for inference: run it under NoGradGuard (training and evaluation with labels "
            "take padded batches)");
  const NoGradGuard no_grad;
  Batch labelled = packed;
  labelled.labels = Tensor::from_vector(std::vector<int64_t>{0, 1, 0}, {3});
  EXPECT_EQ(test::error_of([&] { model->forward(labelled, context); }),
            "[model] a packed batch carries no labels: training and evaluation take padded batches");
  const auto with_offsets = [&](std::vector<int64_t> offsets) {
    Batch batch = packed;
    batch.sequence_offsets = Tensor::from_vector(offsets, {static_cast<int64_t>(offsets.size())});
    return test::error_of([&] { model->forward(batch, context); });
  };
  EXPECT_EQ(with_offsets({1, 9, 12, 18}), "[distilbert] sequence_offsets must start at 0, got 1");
  EXPECT_EQ(with_offsets({0, 9, 8, 18}), "[distilbert] sequence_offsets fall from 9 to 8 at sequence 1");
  EXPECT_EQ(with_offsets({0, 9, 12, 17}), "[distilbert] sequence_offsets end at 17 but the batch has 18 tokens");
  EXPECT_EQ(with_offsets({0, 9, 9, 18}), "[distilbert] sequence 1 is empty (sequence_offsets repeat 9)");
  Batch masked = packed;
  masked.attention_mask = Tensor::zeros({18}, DType::I64);
  EXPECT_EQ(test::error_of([&] { model->forward(masked, context); }),
            "[model] a packed batch has no attention_mask (it has no padding), got one of [18]");
  EXPECT_EQ(test::error_of([&] { attention_mask_or_ones(packed); }),
            "[model] a packed batch has no attention mask: this model reads padded batches");
  model->set_training(true);
  EXPECT_EQ(test::error_of([&] { model->forward(packed, context); }),
            "[attention] a packed batch runs in evaluation mode (set_training(false)) and without output_attentions");
  model->set_training(false);
  EXPECT_EQ(test::error_of([&] { model->forward(packed, context, {.attentions = true}); }),
            "[attention] a packed batch runs in evaluation mode (set_training(false)) and without output_attentions");
  std::vector<Encoding> empty = encodings;
  empty[2].attention_mask.assign(empty[2].size(), 0);
  EXPECT_EQ(test::error_of([&] { pack_batch(pointers(empty)); }), "[collator] encoding 2 has no tokens to pack");
}

// A tokenizer's padding (either side) is left out: a padded encoding packs as its unpadded self.
TEST(PackedBatch, PaddingIsLeftOut) {
  const std::vector<Encoding> encodings = mixed_lengths();
  std::vector<Encoding> padded = encodings;
  for (Encoding& encoding : padded) {
    for (const bool left : {true, false}) {
      const auto at = left ? encoding.ids.begin() : encoding.ids.end();
      encoding.ids.insert(at, 0);
      encoding.type_ids.insert(left ? encoding.type_ids.begin() : encoding.type_ids.end(), 0);
      encoding.attention_mask.insert(left ? encoding.attention_mask.begin() : encoding.attention_mask.end(), 0);
    }
  }
  const Batch expected = pack_batch(pointers(encodings));
  const Batch packed = pack_batch(pointers(padded));
  EXPECT_TENSOR_NEAR(packed.input_ids.to(DType::F32), expected.input_ids.to(DType::F32), 0.0);
  EXPECT_TENSOR_NEAR(packed.token_type_ids.to(DType::F32), expected.token_type_ids.to(DType::F32), 0.0);
  EXPECT_TENSOR_NEAR(packed.sequence_offsets.to(DType::F32), expected.sequence_offsets.to(DType::F32), 0.0);
}

// Through a pipeline too: mean pooling of a padded encoding (either side) is the unpadded one's.
TEST(PackedBatch, PipelinesGiveAPaddedEncodingItsUnpaddedResult) {
  FeatureExtractionOptions mean;
  mean.pooling = Pooling::Mean;
  auto embedder = FeatureExtractionPipeline::from_pretrained(test::fixtures_dir() + "/tiny-distilbert", mean);
  const std::vector<Encoding> encodings = mixed_lengths();
  std::vector<Encoding> padded = encodings;
  padded[0].ids.insert(padded[0].ids.begin(), 0);
  padded[0].type_ids.insert(padded[0].type_ids.begin(), 0);
  padded[0].attention_mask.insert(padded[0].attention_mask.begin(), 0);
  padded[1].ids.push_back(0);
  padded[1].type_ids.push_back(0);
  padded[1].attention_mask.push_back(0);
  const auto expected = embedder.embed(encodings);
  const auto actual = embedder.embed(padded);
  for (size_t i = 0; i < expected.size(); ++i) {
    for (size_t d = 0; d < expected[i].size(); ++d) EXPECT_NEAR(actual[i][d], expected[i][d], 1e-6) << i;
  }
}

TEST(PackedBatchErrors, AttentionChecksItsOffsets) {
  const Tensor q = Tensor::zeros({5, 4}, DType::F32);
  const auto attend_with = [&](std::vector<int64_t> offsets) {
    const Tensor tensor = Tensor::from_vector(offsets, {static_cast<int64_t>(offsets.size())});
    return test::error_of([&] { ops::attention_packed(q, q, q, tensor, 2, DType::F32); });
  };
  EXPECT_EQ(attend_with({0, 6}), "[attention] sequence_offsets end at 6 but the batch has 5 tokens");
  EXPECT_EQ(attend_with({0}), "[attention] sequence_offsets must be I64 [B+1] with B >= 1, got I64 [1]");
  EXPECT_EQ(test::error_of([&] {
              ops::attention_packed(q, q, q, Tensor::from_vector(std::vector<int64_t>{0, 5}, {2}), 3, DType::F32);
            }),
            "[op] packed attention needs q, k, v of one shape [N, H*Dh] with a width divisible by 3 heads, got [5, 4], "
            "[5, 4], [5, 4]");
}

}  // namespace
}  // namespace graft
