// The model card written next to a fine-tuned model: front matter, every section, the stage settings,
// the evaluation numbers, and the limitations carried over from the base model's card.
#include "graft/train/model_card.h"

#include <filesystem>
#include <fstream>

#include "graft/train/metrics.h"
#include "graft/train/trainer.h"
#include "test_support.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("graft-card-test-" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

const char* const kBaseCard =
    "---\nlanguage: en\nlicense: apache-2.0\n---\n"
    "# DistilBERT base model (uncased)\n\n"
    "## Intended uses & limitations\n\nYou can use the raw model for masked language modeling.\n\n"
    "### Limitations and bias\n\nEven if the training data used for this model could be characterized as fairly "
    "neutral, this model can have biased predictions.\n\n"
    "```python\n# a comment, not a heading\n```\n\n"
    "#### Examples\n\nunmasker(\"The White man worked as a [MASK].\")\n\n"
    "## Training data\n\nBookCorpus and English Wikipedia.\n";

nlohmann::json three_class_report() {
  // 3 of 4 right: accuracy 0.75.
  const ClassificationReport report = classification_report({0, 1, 2, 2}, {0, 1, 2, 1}, 3);
  nlohmann::json json = report.to_json({"negative", "neutral", "positive"});
  json["loss"] = 0.5;
  return json;
}

ModelCardInputs two_stage_inputs() {
  ModelCardInputs inputs;
  inputs.base_model = "distilbert-base-uncased";
  inputs.task = "sequence-classification";
  inputs.train_file = "train.csv";
  inputs.eval_file = "valid.csv";
  inputs.train_summary = "4 examples, 3 labels\n  negative 1\n";
  inputs.eval_summary = "4 examples, 3 labels\n";
  inputs.labels = {"negative", "neutral", "positive"};
  TrainingArguments head;
  head.epochs = 2;
  head.learning_rate = 1e-3;
  head.lr_scheduler = "constant";
  nlohmann::json head_settings = head.to_json();
  head_settings["batch_size"] = 16;
  TrainingArguments full;
  full.learning_rate = 5e-5;
  full.warmup_ratio = 0.1;
  full.weight_decay = 0.01;
  nlohmann::json full_settings = full.to_json();
  full_settings["batch_size"] = 32;
  inputs.stages = {{"head only", "distilbert", head_settings, 12.0, 250.0, 40},
                   {"full fine-tuning", "none", full_settings, 30.5, 98.0, 60}};
  inputs.eval_results = three_class_report();
  return inputs;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ModelCard, FrontMatterNamesLibraryBaseModelAndPipeline) {
  const std::string card = render_model_card(two_stage_inputs());
  EXPECT_EQ(card.rfind("---\nlibrary_name: graft\nbase_model: \"distilbert-base-uncased\"\n"
                       "pipeline_tag: text-classification\ntags:\n- graft\n- transfer-learning\n"
                       "- text-classification\nmetrics:\n- accuracy\n- f1\n---\n",
                       0),
            0U)
      << card;
}

TEST(ModelCard, InheritsTheBaseCardsLicenseAndNamesTheBase) {
  ModelCardInputs inputs = two_stage_inputs();
  inputs.base_model = "/models/all-MiniLM-L6-v2";  // a local folder: no base_model in the metadata
  inputs.base_card = kBaseCard;
  const std::string card = render_model_card(inputs);
  EXPECT_EQ(card.rfind("---\nlibrary_name: graft\nlicense: \"apache-2.0\"\npipeline_tag: text-classification\n", 0), 0U)
      << card;
  EXPECT_TRUE(contains(card,
                       "This model is `/models/all-MiniLM-L6-v2` fine-tuned with graft for sequence-classification. "
                       "Its base is \"DistilBERT base model (uncased)\" (by its own card, license apache-2.0)."))
      << card;
  inputs.base_card = "# A model\n\nNo front matter.\n";
  const std::string unlicensed = render_model_card(inputs);
  EXPECT_FALSE(contains(unlicensed, "license:"));
  EXPECT_TRUE(contains(unlicensed, "Its base is \"A model\" (by its own card, which names no license)."));
}

TEST(ModelCard, LocalBaseModelPathStaysOutOfTheMetadata) {
  ModelCardInputs inputs = two_stage_inputs();
  inputs.base_model = "/models/my-distilbert/";
  const std::string card = render_model_card(inputs);
  EXPECT_FALSE(contains(card, "base_model:"));
  EXPECT_TRUE(contains(card, "# my-distilbert fine-tuned for sequence-classification\n"));
  EXPECT_TRUE(contains(card, "This model is `/models/my-distilbert/` fine-tuned with graft"));
}

TEST(ModelCard, HasEverySection) {
  const std::string card = render_model_card(two_stage_inputs());
  for (const char* section :
       {"## Model description\n", "## Training data\n", "## Training procedure\n", "## Evaluation results\n",
        "## Intended uses\n", "## Limitations and bias\n", "## How to use\n"}) {
    EXPECT_TRUE(contains(card, section)) << section;
  }
  EXPECT_TRUE(contains(card, "It predicts one of 3 labels: `negative`, `neutral`, `positive`."));
  EXPECT_TRUE(contains(card, "- Training set: `train.csv`\n\n```text\n4 examples, 3 labels\n  negative 1\n```\n"));
  EXPECT_TRUE(contains(card, "- Evaluation set: `valid.csv`\n"));
  EXPECT_TRUE(contains(card, "graft predict --model DIR \"The text to classify\""));
}

TEST(ModelCard, ListsEachStageWithItsHyperparameters) {
  const std::string card = render_model_card(two_stage_inputs());
  EXPECT_TRUE(contains(card,
                       "### Stage 1: head only\n\n- freeze: distilbert\n- num_train_epochs: 2\n"
                       "- max_steps: 0\n- learning_rate: 0.001\n- batch_size: 16\n"))
      << card;
  EXPECT_TRUE(contains(card, "- lr_scheduler_type: constant\n"));
  EXPECT_TRUE(contains(card, "40 optimizer steps in 12.0 s (250.0 samples/s)."));
  EXPECT_TRUE(contains(card,
                       "### Stage 2: full fine-tuning\n\n- freeze: none\n- num_train_epochs: 3\n"
                       "- max_steps: 0\n- learning_rate: 5e-05\n- batch_size: 32\n"));
  EXPECT_TRUE(contains(card, "- warmup_ratio: 0.1\n- weight_decay: 0.01\n"));
  EXPECT_TRUE(contains(card, "60 optimizer steps in 30.5 s (98.0 samples/s)."));
  EXPECT_FALSE(contains(card, "output_dir"));
}

TEST(ModelCard, AResumedStageSaysWhichStepsItsTimeCovers) {
  ModelCardInputs inputs = two_stage_inputs();
  inputs.stages[1].first_step = 45;
  const std::string card = render_model_card(inputs);
  EXPECT_TRUE(contains(card,
                       "60 optimizer steps; the last run resumed at step 45 and took 30.5 s for steps 46-60 "
                       "(98.0 samples/s)."))
      << card;
}

TEST(TrainingArguments, RecordsOnlyTheChosenOptimizersSettings) {
  TrainingArguments args;
  EXPECT_TRUE(args.to_json().contains("adam_beta2"));
  EXPECT_FALSE(args.to_json().contains("momentum"));
  args.optimizer = "sgd";
  EXPECT_EQ(args.to_json().at("momentum"), 0.9);
  EXPECT_FALSE(args.to_json().contains("adam_epsilon"));
}

TEST(ModelCard, ReportsAccuracyPerClassAndConfusion) {
  const std::string card = render_model_card(two_stage_inputs());
  EXPECT_TRUE(contains(card, "| Accuracy | 0.7500 |\n")) << card;
  EXPECT_TRUE(contains(card, "| Loss | 0.5000 |\n"));
  EXPECT_TRUE(contains(card, "| positive | 1.0000 | 0.5000 | 0.6667 | 2 |\n"));
  EXPECT_TRUE(contains(card,
                       "| true \\ predicted | negative | neutral | positive |\n|---|---|---|---|\n"
                       "| negative | 1 | 0 | 0 |\n| neutral | 0 | 1 | 0 |\n| positive | 0 | 1 | 1 |\n"));
}

TEST(ModelCard, WithoutEvaluationSaysSo) {
  ModelCardInputs inputs = two_stage_inputs();
  inputs.eval_results = nullptr;
  inputs.eval_file.clear();
  const std::string card = render_model_card(inputs);
  EXPECT_TRUE(contains(card, "The model was not evaluated on held-out data"));
  EXPECT_FALSE(contains(card, "metrics:"));
}

TEST(ModelCard, ExtractsBiasSectionsByHeading) {
  EXPECT_EQ(extract_markdown_sections(kBaseCard, {"bias", "limitation"}, 3),
            "### Intended uses & limitations\n\nYou can use the raw model for masked language modeling.\n\n"
            "#### Limitations and bias\n\nEven if the training data used for this model could be characterized "
            "as fairly neutral, this model can have biased predictions.\n\n"
            "```python\n# a comment, not a heading\n```\n\n"
            "##### Examples\n\nunmasker(\"The White man worked as a [MASK].\")");
  EXPECT_EQ(extract_markdown_sections("# Title\n\nNo such section.\n", {"bias"}, 3), "");
}

TEST(ModelCard, CarriesTheBaseCardsLimitations) {
  const TempDir dir;
  EXPECT_EQ(read_base_card(dir.path()), "");
  std::ofstream(dir.path() + "/README.md") << kBaseCard;
  ModelCardInputs inputs = two_stage_inputs();
  inputs.base_card = read_base_card(dir.path());
  ASSERT_EQ(inputs.base_card, kBaseCard);
  const std::string card = render_model_card(inputs);
  EXPECT_TRUE(contains(card, "The base model's card says:\n\n### Intended uses & limitations\n")) << card;
  EXPECT_TRUE(contains(card, "this model can have biased predictions."));
  EXPECT_FALSE(contains(card, "BookCorpus"));
  EXPECT_FALSE(contains(card, "license: apache-2.0"));
}

}  // namespace
}  // namespace graft
