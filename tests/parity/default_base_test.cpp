// The default base, sentence-transformers/all-MiniLM-L6-v2 as scripts/fetch-base-model.sh installs it, against
// Hugging Face's own outputs for it (tests/fixtures/default_base_golden.safetensors, written by
// tests/golden/make_default_base_golden.py with transformers 5.24 / torch 2.15): token ids and masks exact,
// last hidden states and sentence-transformers' normalised mean-pooled embeddings within the parity bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "graft/data/collator.h"
#include "graft/io/safetensors.h"
#include "graft/models/model.h"
#include "graft/pipelines/feature_extraction.h"
#include "graft/tokenizer/tokenizer.h"
#include "test_support.h"

namespace graft {
namespace {

std::string default_base() {
  return test::fixtures_dir() + "/../../models/all-MiniLM-L6-v2";
}

#define GRAFT_REQUIRE_DEFAULT_BASE()                                            \
  do {                                                                          \
    if (!std::filesystem::exists(default_base() + "/model.safetensors"))        \
      GTEST_SKIP() << "the default base is not installed at " << default_base() \
                   << " (scripts/fetch-base-model.sh installs it)";             \
  } while (0)

std::vector<std::string> golden_texts(const SafetensorsFile& golden) {
  return nlohmann::json::parse(golden.metadata().at("texts")).get<std::vector<std::string>>();
}

TEST(DefaultBase, TokenIdsAndHiddenStatesAreHuggingFaces) {
  GRAFT_REQUIRE_DEFAULT_BASE();
  ForwardContext context;
  const SafetensorsFile golden = SafetensorsFile::open(test::fixtures_dir() + "/default_base_golden.safetensors");
  const Tokenizer tokenizer = Tokenizer::from_pretrained(default_base());
  EncodeOptions options;
  options.padding = Padding::Longest;
  const std::vector<Encoding> encodings = tokenizer.encode_batch(golden_texts(golden), options);
  std::vector<const Encoding*> pointers;
  for (const Encoding& encoding : encodings) pointers.push_back(&encoding);
  const Batch batch = pad_batch(pointers, tokenizer.pad_id());
  EXPECT_EQ(batch.input_ids.to_int_vector(), golden.load("input_ids", DType::I64).to_int_vector());
  EXPECT_EQ(batch.attention_mask.to_int_vector(), golden.load("attention_mask", DType::I64).to_int_vector());

  auto model = Model::from_pretrained(default_base());
  const Tensor hidden = model->forward(batch, context).encoder.last_hidden_state;
  const Tensor expected = golden.load("last_hidden_state");
  ASSERT_EQ(hidden.shape(), expected.shape());
  // The goldens' forward bound (tests/parity/model_parity_test.cpp), on a 6-layer model with real weights.
  const double worst = test::max_abs_diff(hidden, expected);
  EXPECT_LE(worst, 1e-4);
  std::printf("max |graft - transformers| over the last hidden states: %.2g\n", worst);
}

TEST(DefaultBase, MeanPooledEmbeddingsAreSentenceTransformers) {
  GRAFT_REQUIRE_DEFAULT_BASE();
  const SafetensorsFile golden = SafetensorsFile::open(test::fixtures_dir() + "/default_base_golden.safetensors");
  FeatureExtractionOptions options;
  options.pooling = Pooling::Mean;
  auto pipeline = FeatureExtractionPipeline::from_pretrained(default_base(), options);
  const std::vector<std::vector<float>> embeddings = pipeline(golden_texts(golden));
  const std::vector<float> expected = golden.load("embeddings").to_float_vector();
  ASSERT_EQ(embeddings.size(), 3U);
  double worst = 0.0;
  for (size_t text = 0; text < embeddings.size(); ++text) {
    double norm = 0.0;
    for (const float value : embeddings[text]) norm += double{value} * value;
    norm = std::sqrt(norm);
    ASSERT_EQ(embeddings[text].size() * 3, expected.size());
    for (size_t d = 0; d < embeddings[text].size(); ++d) {
      worst = std::max(worst, std::fabs(embeddings[text][d] / norm - expected[text * embeddings[text].size() + d]));
    }
  }
  EXPECT_LE(worst, 1e-5);  // unit vectors of 384 values, each about 0.05: 1e-4 of the hidden states, averaged
}

}  // namespace
}  // namespace graft
