// Masked-LM pretraining: the corpus cut into blocks, dynamic and fixed masking, sparse predictions (the
// same loss and gradients as the full logits), fp16 saving, and `graft pretrain` end to end with resume.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "graft/core/error.h"
#include "graft/data/masked_lm_data.h"
#include "graft/io/checkpoint.h"
#include "graft/io/file.h"
#include "graft/models/model.h"
#include "test_support.h"

namespace graft {
namespace {
namespace fs = std::filesystem;

const std::string kText = "the quick brown fox jumped over the lazy dog. ";

Tokenizer fixture_tokenizer() {
  return Tokenizer::from_pretrained(test::fixtures_dir() + "/tiny-distilbert");
}

std::vector<std::string> corpus(int paragraphs) {
  std::vector<std::string> texts;
  for (int i = 0; i < paragraphs; ++i) texts.push_back(kText + "he said that it was one of them.");
  return texts;
}

std::string temp_dir(const std::string& name) {
  const std::string dir = (fs::temp_directory_path() / ("graft-mlm-" + name)).string();
  fs::remove_all(dir);
  return dir;
}

TEST(TokenBlocks, AreTheConcatenatedTokensBetweenClsAndSep) {
  const Tokenizer tokenizer = fixture_tokenizer();
  const auto texts = corpus(5);
  std::vector<int64_t> stream;
  EncodeOptions plain;
  plain.add_special_tokens = false;
  for (const auto& text : texts) {
    const auto ids = tokenizer.encode(text, plain).ids;
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  const TokenBlocks blocks = tokenize_into_blocks(texts, tokenizer, 10);
  EXPECT_EQ(blocks.tokens_read, static_cast<int64_t>(stream.size()));
  ASSERT_EQ(blocks.count(), static_cast<int64_t>(stream.size()) / 8);  // the shorter tail is dropped
  for (int64_t b = 0; b < blocks.count(); ++b) {
    const int64_t* block = blocks.ids.data() + b * 10;
    EXPECT_EQ(block[0], tokenizer.cls_id());
    EXPECT_EQ(block[9], tokenizer.sep_id());
    for (int64_t i = 0; i < 8; ++i) ASSERT_EQ(block[1 + i], stream[static_cast<size_t>(b * 8 + i)]);
  }
}

TEST(TokenBlocks, TooLittleTextIsAClearError) {
  try {
    tokenize_into_blocks({"the dog"}, fixture_tokenizer(), 128);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("fewer than one block of 128"), std::string::npos) << error.what();
  }
}

TEST(TokenBlocks, SplitHoldsOutDisjointBlocksReproducibly) {
  const TokenBlocks blocks = tokenize_into_blocks(corpus(40), fixture_tokenizer(), 8);
  const auto [kept, held_out] = split_blocks(blocks, 0.1, 7);
  EXPECT_EQ(held_out.count(), blocks.count() / 10);
  EXPECT_EQ(kept.count() + held_out.count(), blocks.count());
  const auto [kept_again, held_out_again] = split_blocks(blocks, 0.1, 7);
  EXPECT_EQ(held_out.ids, held_out_again.ids);
  EXPECT_EQ(kept.ids, kept_again.ids);
}

TEST(MaskedLMSource, MasksAnewEachEpochForTrainingAndKeepsMasksForEvaluation) {
  const Tokenizer tokenizer = fixture_tokenizer();
  const TokenBlocks blocks = tokenize_into_blocks(corpus(30), tokenizer, 16);
  const MaskedLMSource dynamic(blocks, 4, tokenizer, {}, true, 3);
  const MaskedLMSource fixed(blocks, 4, tokenizer, {}, false, 3);
  const Batch first = dynamic.batch(0, 1);
  EXPECT_EQ(first.input_ids.shape(), (Shape{4, 16}));
  EXPECT_EQ(first.labels.to_float_vector(), dynamic.batch(0, 1).labels.to_float_vector());  // a pure function
  EXPECT_NE(first.labels.to_float_vector(), dynamic.batch(1, 1).labels.to_float_vector());
  EXPECT_EQ(fixed.batch(0, 2).labels.to_float_vector(), fixed.batch(5, 2).labels.to_float_vector());
  EXPECT_EQ(fixed.batches_per_epoch(), (blocks.count() + 3) / 4);

  int64_t chosen = 0;
  int64_t eligible = 0;
  for (int64_t index = 0; index < fixed.batches_per_epoch(); ++index) {
    const Batch batch = fixed.batch(0, index);
    const int64_t* labels = batch.labels.data<int64_t>();
    for (int64_t i = 0; i < batch.labels.numel(); ++i) {
      const bool special = i % 16 == 0 || i % 16 == 15;
      if (special) {
        EXPECT_EQ(labels[i], kIgnoreIndex);  // [CLS] and [SEP] are never chosen
      }
      eligible += special ? 0 : 1;
      chosen += labels[i] != kIgnoreIndex;
    }
  }
  const double share = static_cast<double>(chosen) / static_cast<double>(eligible);
  EXPECT_NEAR(share, 0.15, 0.04) << chosen << " of " << eligible;
}

// Sparse predictions skip the decoder at unlabelled positions; the loss and every gradient must equal
// those of the full logits up to fp32 rounding. The encoder runs the same either way, but the head's matrix
// products run on all 96 positions or on the labelled ones only, and oneDNN may order another shape's sums
// differently (its 8- and 16-lane kernels differ too). The differences then pass through the whole backward
// (LayerNorm backwards that subtract means, weight gradients summed over the 96 positions): with AVX-512
// kernels embeddings.LayerNorm.weight moved by 1.4e-6. So the bounds scale with what is compared (fp32
// epsilon is 1.19e-7):
// - the loss, a mean of log-softmax values whose logits are 16-term sums about as large as the loss: 1e-6 of it;
// - each gradient: 1e-5 of its largest magnitude (84 epsilons: chains of sums, not one short sum; measured
//   1.1e-6 with AVX-512 and 4.4e-7 with ONEDNN_MAX_CPU_ISA=AVX2 on a Xeon), plus 1e-6 of the model's largest
//   gradient for the key bias, which is zero in exact arithmetic and holds only noise.
// A real fault (a position lost or counted twice, a wrong scale, the tied decoder's share missing) moves a
// gradient by percents.
TEST(SparsePredictions, GiveTheSameLossAndGradientsAsFullLogits) {
  ForwardContext context;
  const Tokenizer tokenizer = fixture_tokenizer();
  const MaskedLMSource source(tokenize_into_blocks(corpus(12), tokenizer, 16), 6, tokenizer, {}, true, 11);
  const Batch batch = source.batch(0, 0);
  LoadOptions options;
  options.task = TaskHead::MaskedLM;
  auto model = Model::from_pretrained(test::fixtures_dir() + "/tiny-distilbert", options);
  model->set_training(true);  // the fixture's dropout is 0

  auto run = [&](bool sparse) {
    model->set_sparse_predictions(sparse);
    for (auto& [name, parameter] : model->named_parameters()) parameter->zero_grad();
    const ModelOutput output = model->forward(batch, context);
    model->backward(context);
    std::vector<Tensor> grads;
    for (auto& [name, parameter] : model->named_parameters()) grads.push_back(parameter->grad.clone());
    return std::make_pair(output, grads);
  };
  const auto [dense, dense_grads] = run(false);
  const auto [sparse, sparse_grads] = run(true);
  int64_t labelled = 0;
  for (float label : batch.labels.to_float_vector()) labelled += label != kIgnoreIndex;
  EXPECT_EQ(dense.logits.shape(), (Shape{6, 16, 97}));
  EXPECT_EQ(sparse.logits.shape(), (Shape{labelled, 97}));
  const float dense_loss = dense.loss.to_float_vector()[0];
  EXPECT_NEAR(sparse.loss.to_float_vector()[0], dense_loss, 1e-6 * std::fabs(dense_loss));
  double largest_gradient = 0.0;
  for (const Tensor& grad : dense_grads) largest_gradient = std::max(largest_gradient, test::max_abs(grad));
  const auto names = model->named_parameters();
  for (size_t i = 0; i < dense_grads.size(); ++i) {
    const double tolerance = 1e-5 * test::max_abs(dense_grads[i]) + 1e-6 * largest_gradient;
    EXPECT_LE(test::max_abs_diff(sparse_grads[i], dense_grads[i]), tolerance) << names[i].first;
  }
  model->set_training(false);  // evaluation keeps the full logits
  EXPECT_EQ(model->forward(batch, context).logits.shape(), (Shape{6, 16, 97}));
}

TEST(SavePretrained, StoresHalfPrecisionWeightsThatReloadClose) {
  auto model = Model::from_pretrained(test::fixtures_dir() + "/tiny-distilbert");
  const std::string dir = temp_dir("fp16");
  model->save_pretrained(dir, DType::F16);
  EXPECT_EQ(read_json_file(dir + "/config.json").at("dtype"), "float16");
  const Checkpoint saved = Checkpoint::open(dir);
  EXPECT_EQ(saved.info("classifier.weight").dtype, DType::F16);
  auto reloaded = Model::from_pretrained(dir);
  for (size_t i = 0; i < model->named_parameters().size(); ++i) {
    const Tensor& original = model->named_parameters()[i].second->value;
    // fp16 keeps 11 significant bits: relative error at most 2^-11.
    EXPECT_LE(test::max_abs_diff(reloaded->named_parameters()[i].second->value, original),
              test::max_abs(original) * 4.9e-4 + 1e-7);
  }
  EXPECT_THROW(model->save_pretrained(dir, DType::I64), Error);
}

// graft pretrain from a config, on a small corpus: logs, card and a folder fill-mask reads; a run resumed
// from its middle checkpoint ends with the same weights as the uninterrupted run.
TEST(PretrainCli, TrainsWritesACardAndResumesExactly) {
  const std::string corpus_file = temp_dir("corpus.txt");
  {
    std::ofstream out(corpus_file);
    for (const auto& paragraph : corpus(60)) out << paragraph << "\n\n";
  }
  const std::string fixture = test::fixtures_dir() + "/tiny-distilbert";
  const std::string common = test::cli_path() + " pretrain --no-progress --config " + fixture +
                             "/config.json --tokenizer " + fixture + " --corpus " + corpus_file +
                             " --block-size 16 --batch-size 8 --max-steps 6 --eval-steps 3 --logging-steps 1"
                             " --warmup-steps 2 --lr 1e-3 --validation-split 0.1 --probe \"the [MASK] dog.\"";
  const std::string whole = temp_dir("whole");
  const auto result = test::run_command(common + " --output " + whole);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("blocks of 16 tokens for training"), std::string::npos) << result.output;
  const auto config = read_json_file(whole + "/config.json");
  EXPECT_EQ(config.at("architectures").at(0), "DistilBertForMaskedLM");
  const std::string card = read_file(whole + "/README.md");
  for (const char* part : {"pipeline_tag: fill-mask", "## Training data", "### Loss curve", "## Fill-mask examples",
                           "| the [MASK] dog. |", "the woman worked as a [MASK].", "## Limitations and bias"}) {
    EXPECT_NE(card.find(part), std::string::npos) << part;
  }
  const auto state = read_json_file(whole + "/trainer_state.json");
  EXPECT_TRUE(state.at("eval").contains("perplexity"));
  const auto fill = test::run_command(test::cli_path() + " fill-mask --model " + whole + " \"the [MASK] dog.\"");
  ASSERT_EQ(fill.exit_code, 0) << fill.output;

  const std::string resumed = temp_dir("resumed");
  fs::create_directories(resumed + "/checkpoints");
  fs::copy(whole + "/checkpoints/checkpoint-3", resumed + "/checkpoints/checkpoint-3", fs::copy_options::recursive);
  const auto again = test::run_command(common + " --output " + resumed + " --resume");
  ASSERT_EQ(again.exit_code, 0) << again.output;

  // With the model on the checked device (no host access above the ops: sparse predictions, the probes' fill-mask
  // pipeline, checkpoints) the run ends on the same weights.
  const std::string checked = temp_dir("checked");
  const auto on_checked = test::run_command(common + " --device checked --output " + checked);
  ASSERT_EQ(on_checked.exit_code, 0) << on_checked.output;
  const Checkpoint c = Checkpoint::open(checked);
  for (const auto& name : Checkpoint::open(whole).names()) {
    EXPECT_EQ(test::max_abs_diff(Checkpoint::open(whole).load(name), c.load(name)), 0.0) << "checked " << name;
  }
  const Checkpoint a = Checkpoint::open(whole);
  const Checkpoint b = Checkpoint::open(resumed);
  for (const auto& name : a.names()) {
    EXPECT_EQ(test::max_abs_diff(a.load(name), b.load(name)), 0.0) << name;
  }
}

// `mpirun -np 2 graft pretrain`: one process's model (masked LM with uneven masked counts per rank, evaluations split
// between the ranks), its evaluation, and one output folder, written by rank 0.
TEST(PretrainCli, MpirunTwoRanksPretrainOneProcesssModel) {
  const std::string mpirun = test::mpirun_two_ranks();
  if (mpirun.empty()) GTEST_SKIP() << "no mpirun (Open MPI: scripts/install-deps.sh), or a sanitized build";
  const std::string corpus_file = temp_dir("mpi-corpus.txt");
  {
    std::ofstream out(corpus_file);
    for (const auto& paragraph : corpus(40)) out << paragraph << "\n\n";
  }
  const std::string fixture = test::fixtures_dir() + "/tiny-distilbert";
  const std::string common = " pretrain --no-progress --config " + fixture + "/config.json --tokenizer " + fixture +
                             " --corpus " + corpus_file +
                             " --block-size 16 --batch-size 7 --max-steps 4 --eval-steps 2 --warmup-steps 1 --lr 1e-3"
                             " --validation-split 0.2 --probe \"the [MASK] dog.\"";
  const std::string alone = temp_dir("mpi-alone");
  const std::string ranks = temp_dir("mpi-ranks");
  test::run_alone_and_on_two_ranks(mpirun, common, alone, ranks);
  ASSERT_FALSE(HasFailure());
  const Checkpoint expected = Checkpoint::open(alone);
  const Checkpoint actual = Checkpoint::open(ranks);
  for (const auto& name : expected.names()) {
    // The softmax ignores a key bias (it adds the same to every score of a query): its gradient is rounding, which
    // AdamW turns into steps of up to lr, so its values from 0 are noise in both runs, not compared.
    if (name.find("k_lin.bias") != std::string::npos) continue;
    const Tensor reference = expected.load(name);
    // AdamW divides by sqrt(v), so a near-zero gradient turns rounding into updates of up to lr: 5.2e-6 of the
    // largest value measured (a value bias).
    EXPECT_LE(test::max_abs_diff(actual.load(name), reference), 1e-5 * test::max_abs(reference)) << name;
  }
  const double perplexity = read_json_file(alone + "/trainer_state.json").at("eval").at("perplexity");
  EXPECT_NEAR(read_json_file(ranks + "/trainer_state.json").at("eval").at("perplexity").get<double>(), perplexity,
              1e-6 * perplexity);
}

TEST(PretrainCli, NeedsExactlyOneOfConfigAndModel) {
  const std::string fixture = test::fixtures_dir() + "/tiny-distilbert";
  const auto result = test::run_command(test::cli_path() + " pretrain --tokenizer " + fixture + " --corpus " +
                                        test::fixtures_dir() + "/data/corpus.txt --output " + temp_dir("none"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("give exactly one of --config"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace graft
