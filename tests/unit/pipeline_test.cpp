// The inference pipelines: Hugging Face parity on the golden classifier, and, on the tiny fixtures,
// scores recomputed independently from the model's logits, batching, windows and errors.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "graft/core/autocast.h"
#include "graft/core/error.h"
#include "graft/data/dataset.h"
#include "graft/io/safetensors.h"
#include "graft/ops/ops.h"
#include "graft/pipelines/feature_extraction.h"
#include "graft/pipelines/fill_mask.h"
#include "graft/pipelines/text_classification.h"
#include "graft/pipelines/token_classification.h"
#include "test_support.h"

namespace graft {
namespace {

std::string tiny_distilbert() {
  return test::fixtures_dir() + "/tiny-distilbert";
}
std::string tiny_bert() {
  return test::fixtures_dir() + "/tiny-bert";
}

std::vector<double> softmax_of(const std::vector<float>& logits) {
  double largest = -INFINITY;
  for (float x : logits) largest = std::max(largest, static_cast<double>(x));
  std::vector<double> out;
  double sum = 0.0;
  for (float x : logits) sum += std::exp(x - largest);
  for (float x : logits) out.push_back(std::exp(x - largest) / sum);
  return out;
}

// The logits of one encoding, run alone (no padding) straight through the model.
std::vector<float> logits_alone(Model& model, const Encoding& encoding) {
  ForwardContext context;
  Batch batch;
  const auto length = static_cast<int64_t>(encoding.size());
  batch.input_ids = Tensor::from_vector(encoding.ids, {1, length});
  batch.attention_mask = Tensor::from_vector(encoding.attention_mask, {1, length});
  batch.token_type_ids = Tensor::from_vector(encoding.type_ids, {1, length});
  return model.forward(batch, context).logits.to_float_vector();
}

std::map<std::string, float> by_label(const std::vector<LabelScore>& labels) {
  std::map<std::string, float> scores;
  for (const auto& label : labels) scores[label.label] = label.score;
  return scores;
}

TextClassificationOptions classification(std::optional<int64_t> top_k, int64_t batch_size = 32) {
  TextClassificationOptions options;
  options.top_k = top_k;
  options.batch_size = batch_size;
  return options;
}

TokenClassificationOptions tagging(int64_t batch_size, int64_t stride = 0) {
  TokenClassificationOptions options;
  options.batch_size = batch_size;
  options.stride = stride;
  options.ignore_labels = {};
  return options;
}

const std::vector<std::string> kTexts = {"the quick brown fox", "hello world , the lazy dog is playing", "a",
                                         "cafe naive and the fox jump over it"};
const std::string kLongText =
    "the quick brown fox jump over the lazy dog and the dog was playing with his fox when we said hello world";

TEST(TextClassification, GoldenMatchesSoftmaxOfTransformersLogits) {
  GRAFT_REQUIRE_GOLDEN();
  ReadOptions read;
  read.text_column = "sentence";
  const auto dataset = read_dataset(test::shared_dir() + "/data/financial_phrasebank/train.csv", read);
  std::vector<std::string> sentences;
  for (size_t i = 0; i < 4; ++i) sentences.push_back(dataset.examples[i].text);
  const auto golden = SafetensorsFile::open(test::golden_dir() + "/distilbert_seqcls/forward_backward.safetensors");
  const auto logits = golden.load("logits").to_float_vector();  // [4, 3]
  TextClassificationOptions options;
  options.top_k = 0;
  options.device = test::device();
  auto pipeline =
      TextClassificationPipeline::from_pretrained(test::golden_dir() + "/distilbert_seqcls/checkpoint", options);
  const auto results = pipeline(sentences);
  ASSERT_EQ(results.size(), 4U);
  const std::vector<std::string> names = {"negative", "neutral", "positive"};
  for (size_t row = 0; row < 4; ++row) {
    const auto expected = softmax_of({logits.begin() + row * 3, logits.begin() + row * 3 + 3});
    ASSERT_EQ(results[row].size(), 3U);
    auto scores = by_label(results[row]);
    for (size_t c = 0; c < 3; ++c) EXPECT_NEAR(scores[names[c]], expected[c], 1e-4) << sentences[row];
  }
}

TEST(TextClassification, ScoresAreSoftmaxOfLogitsSortedDescending) {
  auto model = Model::from_pretrained(tiny_distilbert());
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_distilbert());
  TextClassificationOptions options;
  options.top_k = 0;
  TextClassificationPipeline pipeline(*model, tokenizer, options);
  EXPECT_EQ(pipeline.score_function(), ScoreFunction::Softmax);
  const auto results = pipeline(kTexts);
  ASSERT_EQ(results.size(), kTexts.size());
  EncodeOptions encode;
  encode.max_length = pipeline.max_length();
  encode.truncation = Truncation::LongestFirst;
  for (size_t i = 0; i < kTexts.size(); ++i) {
    const auto expected = softmax_of(logits_alone(*model, tokenizer.encode(kTexts[i], encode)));
    ASSERT_EQ(results[i].size(), 3U);
    EXPECT_GE(results[i][0].score, results[i][1].score);
    EXPECT_GE(results[i][1].score, results[i][2].score);
    auto scores = by_label(results[i]);
    EXPECT_NEAR(scores["negative"], expected[0], 1e-5);
    EXPECT_NEAR(scores["neutral"], expected[1], 1e-5);
    EXPECT_NEAR(scores["positive"], expected[2], 1e-5);
  }
}

// Finite weights that overflow on an input gave "nan" scores (and JSON null) as answers.
TEST(TextClassification, AnOutputThatIsNotFiniteIsAnErrorNotAScore) {
  auto model = Model::from_pretrained(tiny_distilbert());
  for (const auto& [name, parameter] : model->named_parameters()) {
    if (name == "classifier.weight") ops::scale(parameter->value, 1e38F);
  }
  TextClassificationPipeline pipeline(*model, Tokenizer::from_pretrained(tiny_distilbert()));
  try {
    pipeline(kTexts);
    ADD_FAILURE() << "scored a text with infinite logits";
  } catch (const Error& error) {
    EXPECT_EQ(
        std::string(error.what()),
        "[pipeline] the model's output is not finite (inf) for an input of this call: its weights overflow on it");
  }
}

TEST(TextClassification, DefaultTopKIsOneAndTopTwoIsAPrefixOfAll) {
  auto all = TextClassificationPipeline::from_pretrained(tiny_distilbert(), classification(0));
  auto one = TextClassificationPipeline::from_pretrained(tiny_distilbert());
  auto two = TextClassificationPipeline::from_pretrained(tiny_distilbert(), classification(2));
  const auto every = all(kTexts);
  const auto best = one(kTexts);
  const auto top_two = two(kTexts);
  for (size_t i = 0; i < kTexts.size(); ++i) {
    ASSERT_EQ(best[i].size(), 1U);
    ASSERT_EQ(top_two[i].size(), 2U);
    EXPECT_EQ(best[i][0].label, every[i][0].label);
    EXPECT_EQ(top_two[i][1].label, every[i][1].label);
    EXPECT_FLOAT_EQ(top_two[i][1].score, every[i][1].score);
  }
}

TEST(TextClassification, DeterministicAndIndependentOfBatching) {
  auto batched = TextClassificationPipeline::from_pretrained(tiny_distilbert(), classification(0, 32));
  auto single = TextClassificationPipeline::from_pretrained(tiny_distilbert(), classification(0, 1));
  const auto first = batched(kTexts);
  const auto again = batched(kTexts);
  const auto alone = single(kTexts);
  for (size_t i = 0; i < kTexts.size(); ++i) {
    for (size_t c = 0; c < 3; ++c) {
      EXPECT_EQ(first[i][c].label, again[i][c].label);
      EXPECT_EQ(first[i][c].score, again[i][c].score);
      EXPECT_NEAR(by_label(first[i])[first[i][c].label], by_label(alone[i])[first[i][c].label], 1e-5);
    }
  }
}

// With bf16 the scores move by bf16 rounding, not more (4.7e-3 measured: the fixture's logits are large), and
// the caller's thread is back in fp32 afterwards.
TEST(TextClassification, Bf16ScoresStayWithinBf16RoundingOfFp32) {
  auto fp32 = TextClassificationPipeline::from_pretrained(tiny_distilbert(), classification(0));
  TextClassificationOptions options = classification(0);
  options.bf16 = true;
  auto bf16 = TextClassificationPipeline::from_pretrained(tiny_distilbert(), options);
  const auto expected = fp32(kTexts);
  const auto actual = bf16(kTexts);
  EXPECT_EQ(autocast_dtype(), DType::F32);
  double worst = 0.0;
  for (size_t i = 0; i < kTexts.size(); ++i) {
    for (const auto& [label, score] : by_label(expected[i])) {
      worst = std::max(worst, static_cast<double>(std::abs(by_label(actual[i])[label] - score)));
    }
  }
  EXPECT_GT(worst, 0.0);
  EXPECT_LT(worst, 1e-2);
}

TEST(TextClassification, MultiLabelScoresAreIndependentSigmoids) {
  LoadOptions load;
  load.problem_type = "multi_label_classification";
  auto model = Model::from_pretrained(tiny_distilbert(), load);
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_distilbert());
  TextClassificationPipeline pipeline(*model, tokenizer);
  EXPECT_EQ(pipeline.score_function(), ScoreFunction::Sigmoid);
  const auto results = pipeline({kTexts[0]});
  ASSERT_EQ(results[0].size(), 3U);  // every label by default
  const auto logits = logits_alone(*model, tokenizer.encode(kTexts[0]));
  auto scores = by_label(results[0]);
  EXPECT_NEAR(scores["negative"], 1.0 / (1.0 + std::exp(-logits[0])), 1e-6);
  EXPECT_NEAR(scores["neutral"], 1.0 / (1.0 + std::exp(-logits[1])), 1e-6);
  EXPECT_NEAR(scores["positive"], 1.0 / (1.0 + std::exp(-logits[2])), 1e-6);
}

TEST(TextClassification, RegressionReturnsTheRawValue) {
  LoadOptions load;
  load.labels = std::vector<std::string>{"rating"};
  load.problem_type = "regression";
  auto model = Model::from_pretrained(tiny_distilbert(), load);
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_distilbert());
  TextClassificationPipeline pipeline(*model, tokenizer);
  EXPECT_EQ(pipeline.score_function(), ScoreFunction::None);
  const auto results = pipeline(kTexts);
  for (size_t i = 0; i < kTexts.size(); ++i) {
    ASSERT_EQ(results[i].size(), 1U);
    EXPECT_EQ(results[i][0].label, "rating");
    EXPECT_NEAR(results[i][0].score, logits_alone(*model, tokenizer.encode(kTexts[i]))[0], 1e-5);
  }
}

TEST(TextClassification, WindowsAverageTheirProbabilities) {
  auto model = Model::from_pretrained(tiny_distilbert());
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_distilbert());
  TextClassificationOptions options;
  options.stride = 3;
  options.top_k = 0;
  TextClassificationPipeline pipeline(*model, tokenizer, options);
  const auto windows = tokenizer.encode_windows(kLongText, pipeline.max_length(), 3);
  ASSERT_GE(windows.size(), 2U) << "the text must be longer than one window";
  std::vector<double> mean(3, 0.0);
  for (const auto& window : windows) {
    const auto probabilities = softmax_of(logits_alone(*model, window));
    for (size_t c = 0; c < 3; ++c) mean[c] += probabilities[c] / static_cast<double>(windows.size());
  }
  const auto results = pipeline({kLongText, kTexts[0]});
  ASSERT_EQ(results.size(), 2U);  // one result per text, however many windows
  auto scores = by_label(results[0]);
  EXPECT_NEAR(scores["negative"], mean[0], 1e-5);
  EXPECT_NEAR(scores["neutral"], mean[1], 1e-5);
  EXPECT_NEAR(scores["positive"], mean[2], 1e-5);
}

TEST(FillMask, TopKTokensAreTheVocabularySoftmaxAtTheMask) {
  LoadOptions load;
  load.task = TaskHead::MaskedLM;
  auto model = Model::from_pretrained(tiny_distilbert(), load);
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_distilbert());
  FillMaskOptions options;
  options.top_k = 4;
  FillMaskPipeline pipeline(*model, tokenizer, options);
  const std::string text = "the quick [MASK] fox";
  const auto results = pipeline({text, "[MASK] world [MASK]"});
  ASSERT_EQ(results.size(), 2U);
  ASSERT_EQ(results[0].size(), 1U);
  ASSERT_EQ(results[1].size(), 2U);
  const Encoding encoding = tokenizer.encode(text);
  const auto logits = logits_alone(*model, encoding);
  const auto vocabulary = static_cast<size_t>(model->config().vocab_size);
  const size_t mask = 3;  // [CLS] the quick [MASK]
  ASSERT_EQ(encoding.ids[mask], tokenizer.mask_id());
  const auto expected = softmax_of({logits.begin() + mask * vocabulary, logits.begin() + (mask + 1) * vocabulary});
  // The pipeline ran this text in one batch with the other (twice the rows per matrix product), so its logits may
  // differ from logits_alone's by fp32 rounding of the forward's sums, within 1e-5 of the largest logit (as
  // features are); log p = z - logsumexp(z) then moves by at most twice that, and p by that fraction of itself,
  // plus a few fp32 epsilons (1.19e-7) of p from the pipeline's float softmax.
  double largest_logit = 0.0;
  for (size_t c = 0; c < vocabulary; ++c) {
    largest_logit = std::max(largest_logit, std::fabs(static_cast<double>(logits[mask * vocabulary + c])));
  }
  const auto tolerance = [&](double probability) { return probability * (2e-5 * largest_logit + 1e-6); };
  const auto& fills = results[0][0];
  ASSERT_EQ(fills.size(), 4U);
  double total = 0.0;
  for (size_t k = 0; k < fills.size(); ++k) {
    const double expected_score = expected[static_cast<size_t>(fills[k].token)];
    EXPECT_NEAR(fills[k].score, expected_score, tolerance(expected_score));
    if (k > 0) {
      EXPECT_GE(fills[k - 1].score, fills[k].score);
    }
    EXPECT_EQ(fills[k].token_str, tokenizer.id_to_token(fills[k].token));
    total += fills[k].score;
  }
  EXPECT_LE(total, 1.0 + 1e-6);
  const double best = *std::max_element(expected.begin(), expected.end());
  EXPECT_NEAR(fills[0].score, best, tolerance(best));
  std::vector<int64_t> filled = encoding.ids;
  filled[mask] = fills[0].token;
  EXPECT_EQ(fills[0].sequence, tokenizer.decode(filled));
}

TEST(FillMask, TextWithoutMaskIsAnError) {
  LoadOptions load;
  load.task = TaskHead::MaskedLM;
  auto model = Model::from_pretrained(tiny_distilbert(), load);
  FillMaskPipeline pipeline(*model, Tokenizer::from_pretrained(tiny_distilbert()));
  try {
    pipeline({"the [MASK] fox", "no mask here"});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).rfind("[fill-mask] text 2 has no [MASK] token", 0), 0U) << error.what();
  }
}

TEST(Pipelines, ModelWithTheWrongHeadIsRejected) {
  EXPECT_THROW(FillMaskPipeline::from_pretrained(tiny_distilbert()), Error);
  EXPECT_THROW(TokenClassificationPipeline::from_pretrained(tiny_distilbert()), Error);
  EXPECT_THROW(TextClassificationPipeline::from_pretrained(tiny_bert()), Error);
}

TEST(Pipelines, MissingModelFolderIsAClearError) {
  try {
    TextClassificationPipeline::from_pretrained("/nonexistent/model");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/model: not a model folder"), std::string::npos)
        << error.what();
  }
}

TokenEntity piece(const std::string& label, float score, int64_t start, int64_t end) {
  return {label, score, 0, "", start, end};
}

TEST(TokenClassification, SimpleAggregationMergesBeginAndInsidePieces) {
  //                      0123456789012345678901234
  const std::string text = "Jean-Luc lives in Paris.";
  const std::vector<TokenEntity> tokens = {piece("B-PER", 0.9F, 0, 4),   piece("I-PER", 0.8F, 4, 5),
                                           piece("I-PER", 0.7F, 5, 8),                                  // Jean - Luc
                                           piece("O", 0.99F, 9, 14),     piece("O", 0.99F, 15, 17),     // lives in
                                           piece("B-LOC", 0.6F, 18, 21), piece("I-LOC", 0.4F, 21, 23),  // Par ##is
                                           piece("B-LOC", 0.5F, 23, 24)};                               // . starts anew
  const auto groups = group_entities(tokens, text, {"O"});
  ASSERT_EQ(groups.size(), 3U);
  EXPECT_EQ(groups[0].entity_group, "PER");
  EXPECT_EQ(groups[0].word, "Jean-Luc");
  EXPECT_EQ(groups[0].start, 0);
  EXPECT_EQ(groups[0].end, 8);
  EXPECT_NEAR(groups[0].score, 0.8, 1e-6);
  EXPECT_EQ(groups[1].word, "Paris");
  EXPECT_EQ(groups[1].entity_group, "LOC");
  EXPECT_NEAR(groups[1].score, 0.5, 1e-6);
  EXPECT_EQ(groups[2].word, ".");
  const auto with_outside = group_entities(tokens, text, {});
  ASSERT_EQ(with_outside.size(), 4U);
  EXPECT_EQ(with_outside[1].entity_group, "O");
  EXPECT_EQ(with_outside[1].word, "lives in");
}

TEST(TokenClassification, SpansAreCodePointsOfTheOriginalText) {
  const std::string text = "Zoë Müller";  // multi-byte characters before the span
  const auto groups = group_entities({piece("B-PER", 1.0F, 4, 10)}, text, {});
  ASSERT_EQ(groups.size(), 1U);
  EXPECT_EQ(groups[0].word, "Müller");
}

TEST(TokenClassification, EntitiesAreEveryTokensSoftmaxArgmax) {
  auto model = Model::from_pretrained(tiny_bert());
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_bert());
  TokenClassificationPipeline everything(*model, tokenizer, tagging(32));
  const std::string text = "hello world , the quick brown fox";
  const auto result = everything({text})[0];
  const Encoding encoding = tokenizer.encode(text);
  ASSERT_EQ(result.entities.size(), encoding.size() - 2);  // all but [CLS] and [SEP]
  const auto logits = logits_alone(*model, encoding);
  const std::vector<std::string> labels = {"O", "B-PER", "I-PER"};
  for (const auto& entity : result.entities) {
    const auto t = static_cast<size_t>(entity.index);
    const auto probabilities = softmax_of({logits.begin() + t * 3, logits.begin() + t * 3 + 3});
    const auto best =
        static_cast<size_t>(std::max_element(probabilities.begin(), probabilities.end()) - probabilities.begin());
    EXPECT_EQ(entity.entity, labels[best]);
    EXPECT_NEAR(entity.score, probabilities[best], 1e-5);
    EXPECT_EQ(entity.word, encoding.tokens[t]);
    EXPECT_EQ(entity.start, encoding.offsets[t].first);
  }
  // The default ignores "O" in both views; its groups are those of all tokens with "O" dropped.
  auto pipeline = TokenClassificationPipeline::from_pretrained(tiny_bert());
  const auto filtered = pipeline({text})[0];
  const auto expected_groups = group_entities(result.entities, text, {"O"});
  ASSERT_EQ(filtered.groups.size(), expected_groups.size());
  for (size_t i = 0; i < expected_groups.size(); ++i) EXPECT_EQ(filtered.groups[i].word, expected_groups[i].word);
  for (const auto& entity : filtered.entities) EXPECT_NE(entity.entity, "O");
}

TEST(TokenClassification, BatchingAndWindowsGiveOnePredictionPerToken) {
  auto batched = TokenClassificationPipeline::from_pretrained(tiny_bert(), tagging(8));
  auto single = TokenClassificationPipeline::from_pretrained(tiny_bert(), tagging(1));
  const auto a = batched(kTexts);
  const auto b = single(kTexts);
  for (size_t i = 0; i < kTexts.size(); ++i) {
    ASSERT_EQ(a[i].entities.size(), b[i].entities.size());
    for (size_t t = 0; t < a[i].entities.size(); ++t) EXPECT_NEAR(a[i].entities[t].score, b[i].entities[t].score, 1e-5);
  }
  auto windowed = TokenClassificationPipeline::from_pretrained(tiny_bert(), tagging(32, 4));
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_bert());
  const Encoding full = tokenizer.encode(kLongText);
  ASSERT_GT(static_cast<int64_t>(full.size()), windowed.max_length());
  const auto results = windowed({kLongText, kTexts[0]});
  ASSERT_EQ(results.size(), 2U);
  ASSERT_EQ(results[0].entities.size(), full.size() - 2);  // every token once, in order
  for (size_t t = 0; t < results[0].entities.size(); ++t) {
    EXPECT_EQ(results[0].entities[t].index, static_cast<int64_t>(t + 1));
    EXPECT_EQ(results[0].entities[t].start, full.offsets[t + 1].first);
  }
  // A text that fits in one window is predicted as without windows.
  for (size_t t = 0; t < results[1].entities.size(); ++t) {
    EXPECT_NEAR(results[1].entities[t].score, a[0].entities[t].score, 1e-5);
  }
}

TEST(FeatureExtraction, ClsAndMeanPooling) {
  ForwardContext context;
  auto model = Model::from_pretrained(tiny_bert());
  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_bert());
  FeatureExtractionOptions mean_options;
  mean_options.batch_size = 3;
  mean_options.pooling = Pooling::Mean;
  FeatureExtractionPipeline cls(*model, tokenizer);
  FeatureExtractionPipeline mean(*model, tokenizer, mean_options);
  const auto cls_vectors = cls(kTexts);
  const auto mean_vectors = mean(kTexts);
  ASSERT_EQ(cls_vectors.size(), kTexts.size());
  const auto dim = static_cast<size_t>(model->config().hidden_size);
  for (size_t i = 0; i < kTexts.size(); ++i) {
    ASSERT_EQ(cls_vectors[i].size(), dim);
    ASSERT_EQ(mean_vectors[i].size(), dim);
    const Encoding encoding = tokenizer.encode(kTexts[i]);
    Batch batch;
    batch.input_ids = Tensor::from_vector(encoding.ids, {1, static_cast<int64_t>(encoding.size())});
    const auto hidden = model->forward(batch, context).encoder.last_hidden_state.to_float_vector();
    // The pipelines ran the text in padded batches (other rows per matrix product, other key counts), this forward
    // alone, so the encoder's sums may be ordered differently: within 1e-5 of the largest hidden value (84 fp32
    // epsilons; the mean adds at most one sum over the text's tokens).
    double largest = 0.0;
    for (const float value : hidden) largest = std::max(largest, std::fabs(static_cast<double>(value)));
    for (size_t d = 0; d < dim; ++d) {
      double sum = 0.0;
      for (size_t t = 0; t < encoding.size(); ++t) sum += hidden[t * dim + d];
      EXPECT_NEAR(cls_vectors[i][d], hidden[d], 1e-5 * largest);
      EXPECT_NEAR(mean_vectors[i][d], sum / static_cast<double>(encoding.size()), 1e-5 * largest);
    }
  }
  EXPECT_THROW(pooling_named("max"), Error);
}

}  // namespace
}  // namespace graft
