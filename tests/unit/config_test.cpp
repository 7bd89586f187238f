#include "graft/models/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "graft/core/error.h"
#include "graft/io/file.h"
#include "graft/models/family.h"
#include "graft/models/model.h"
#include "test_support.h"

namespace graft {
namespace {

std::string fixture(const std::string& name) {
  return test::fixtures_dir() + "/io/" + name;
}
std::string golden_config(const std::string& model) {
  return test::golden_dir() + "/" + model + "/checkpoint/config.json";
}

TEST(ModelConfig, ReadsDistilBertSequenceClassification) {
  GRAFT_REQUIRE_GOLDEN();
  const auto config = ModelConfig::from_file(golden_config("distilbert_seqcls"));
  EXPECT_EQ(config.model_type, "distilbert");
  EXPECT_EQ(config.vocab_size, 30522);
  EXPECT_EQ(config.hidden_size, 32);
  EXPECT_EQ(config.num_hidden_layers, 2);
  EXPECT_EQ(config.num_attention_heads, 4);
  EXPECT_EQ(config.intermediate_size, 64);
  EXPECT_EQ(config.hidden_act, "gelu");
  EXPECT_EQ(config.max_position_embeddings, 64);
  EXPECT_FALSE(config.sinusoidal_pos_embds);
  EXPECT_EQ(config.layer_norm_eps, 1e-12);
  EXPECT_EQ(config.type_vocab_size, 0);
  EXPECT_EQ(config.pad_token_id, 0);
  EXPECT_EQ(config.hidden_dropout, 0.0);
  EXPECT_EQ(config.attention_dropout, 0.0);
  EXPECT_EQ(config.classifier_dropout, 0.0);
  EXPECT_EQ(config.qa_dropout, 0.1);
  EXPECT_EQ(config.initializer_range, 0.02);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_EQ(config.id2label, (std::map<int64_t, std::string>{{0, "negative"}, {1, "neutral"}, {2, "positive"}}));
  EXPECT_EQ(config.label2id, (std::map<std::string, int64_t>{{"negative", 0}, {"neutral", 1}, {"positive", 2}}));
  EXPECT_EQ(config.num_labels, 3);
  EXPECT_FALSE(config.problem_type.has_value());
  EXPECT_EQ(config.architectures, (std::vector<std::string>{"DistilBertForSequenceClassification"}));
  EXPECT_EQ(head_from_architectures(config), TaskHead::SequenceClassification);
  EXPECT_EQ(config.raw["transformers_version"], "5.17.0");
}

TEST(ModelConfig, ReadsTheOtherGoldenConfigs) {
  GRAFT_REQUIRE_GOLDEN();
  const auto mlm = ModelConfig::from_file(golden_config("distilbert_mlm"));
  EXPECT_EQ(mlm.hidden_size, 16);
  EXPECT_EQ(mlm.intermediate_size, 40);
  EXPECT_EQ(mlm.classifier_dropout, 0.2);
  EXPECT_EQ(mlm.num_labels, 2);  // transformers' default labels
  EXPECT_EQ(mlm.id2label, (std::map<int64_t, std::string>{{0, "LABEL_0"}, {1, "LABEL_1"}}));
  EXPECT_EQ(head_from_architectures(mlm), TaskHead::MaskedLM);

  const auto tokens = ModelConfig::from_file(golden_config("distilbert_tokcls"));
  EXPECT_EQ(tokens.num_attention_heads, 2);
  EXPECT_EQ(tokens.num_labels, 5);
  EXPECT_EQ(tokens.id2label.at(4), "LABEL_4");
  EXPECT_EQ(head_from_architectures(tokens), TaskHead::TokenClassification);

  const auto bert = ModelConfig::from_file(golden_config("bert_seqcls"));
  EXPECT_EQ(bert.model_type, "bert");
  EXPECT_EQ(bert.hidden_size, 16);
  EXPECT_EQ(bert.intermediate_size, 48);
  EXPECT_EQ(bert.num_attention_heads, 4);
  EXPECT_EQ(bert.type_vocab_size, 2);
  EXPECT_EQ(bert.layer_norm_eps, 1e-12);
  EXPECT_EQ(bert.qa_dropout, 0.0);
  EXPECT_EQ(bert.num_labels, 2);
  EXPECT_EQ(head_from_architectures(bert), TaskHead::SequenceClassification);
}

TEST(ModelConfig, ToJsonReproducesEveryGoldenConfig) {
  GRAFT_REQUIRE_GOLDEN();
  for (const char* model : {"distilbert_seqcls", "distilbert_mlm", "distilbert_tokcls", "bert_seqcls"}) {
    SCOPED_TRACE(model);
    const auto original = read_json_file(golden_config(model));
    EXPECT_EQ(ModelConfig::from_json(original, model).to_json(), original);
  }
}

TEST(ModelConfig, BertDefaultsFollowTransformers) {
  const auto config = ModelConfig::from_file(fixture("bert_minimal.json"));
  EXPECT_EQ(config.hidden_dropout, 0.3);
  EXPECT_EQ(config.attention_dropout, 0.1);
  EXPECT_EQ(config.classifier_dropout, 0.3);  // null: hidden_dropout_prob
  EXPECT_EQ(config.hidden_act, "gelu");
  EXPECT_EQ(config.type_vocab_size, 2);
  EXPECT_EQ(config.pad_token_id, -1);
  EXPECT_EQ(config.num_labels, 3);
  EXPECT_EQ(config.id2label.at(2), "LABEL_2");
  EXPECT_EQ(config.label2id.at("LABEL_1"), 1);
  EXPECT_EQ(config.problem_type, "regression");
  EXPECT_TRUE(config.architectures.empty());
  EXPECT_EQ(head_from_architectures(config), TaskHead::Base);

  const auto json = config.to_json();
  EXPECT_TRUE(json["classifier_dropout"].is_null());
  EXPECT_TRUE(json["pad_token_id"].is_null());
  EXPECT_EQ(json["num_labels"], 3);
  EXPECT_EQ(json["custom_field"], nlohmann::json({1, 2}));
  EXPECT_EQ(json["id2label"], (nlohmann::json{{"0", "LABEL_0"}, {"1", "LABEL_1"}, {"2", "LABEL_2"}}));
}

TEST(ModelConfig, UpdatedLabelsAndHeadAreWrittenBack) {
  auto config = ModelConfig::from_file(fixture("bert_minimal.json"));
  config.set_labels({"neg", "pos"});
  config.problem_type = "single_label_classification";
  config.architectures = {architecture_name(config.model_type, TaskHead::SequenceClassification)};
  config.classifier_dropout = 0.25;
  const auto json = config.to_json();
  EXPECT_EQ(json["id2label"], (nlohmann::json{{"0", "neg"}, {"1", "pos"}}));
  EXPECT_EQ(json["label2id"], (nlohmann::json{{"neg", 0}, {"pos", 1}}));
  EXPECT_EQ(json["num_labels"], 2);
  EXPECT_EQ(json["problem_type"], "single_label_classification");
  EXPECT_EQ(json["architectures"], nlohmann::json({"BertForSequenceClassification"}));
  EXPECT_EQ(json["classifier_dropout"], 0.25);

  const auto reread = ModelConfig::from_json(json, "round trip");
  EXPECT_EQ(reread.id2label, config.id2label);
  EXPECT_EQ(reread.problem_type, config.problem_type);
  EXPECT_EQ(reread.classifier_dropout, 0.25);
  EXPECT_EQ(head_from_architectures(reread), TaskHead::SequenceClassification);
  EXPECT_EQ(test::error_of([&] { config.set_labels({"a", "a"}); }), "[config] duplicate label \"a\"");
}

TEST(ModelConfig, BadConfigsGiveOneLineErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"unknown_model_type.json", "unknown model_type \"roberta\" (graft supports distilbert and bert)"},
      {"heads_do_not_divide.json", "dim 30 is not a multiple of n_heads 4"},
      {"missing_field.json", "missing required field \"num_hidden_layers\""},
      {"wrong_type.json", "field \"dim\" must be an integer, got string \"16\""},
      {"unsupported_activation.json", "unsupported hidden_act \"gelu_new\" (graft supports gelu and relu)"},
      {"bad_id2label.json", "id2label keys must be 0..1"},
  };
  for (const auto& [name, expected] : cases) {
    SCOPED_TRACE(name);
    EXPECT_EQ(test::error_of([&] { ModelConfig::from_file(fixture(name)); }),
              "[config] " + fixture(name) + ": " + expected);
  }
  EXPECT_EQ(test::error_of([&] {
              ModelConfig::from_json({{"vocab_size", 3}}, "c.json");
            }),
            "[config] c.json: missing required field \"model_type\"");
  EXPECT_EQ(test::error_of([&] { ModelConfig::from_json(nlohmann::json::array(), "c.json"); }),
            "[config] c.json: config must be a JSON object");
  EXPECT_EQ(test::error_of([&] { ModelConfig::from_file(fixture("absent.json")); }),
            "[file] " + fixture("absent.json") + ": cannot open: no such file");
}

// nlohmann's out_of_range escaped the handler ("unexpected error", no file named); a key given twice took
// the last value silently.
TEST(ModelConfig, NumbersBeyondDoubleRangeAndRepeatedKeysNameTheFile) {
  const std::string path = (std::filesystem::temp_directory_path() / "graft_config_overflow.json").string();
  write_file_atomically(path, R"({"model_type": "bert", "vocab_size": 1e400})");
  EXPECT_EQ(test::error_of([&] { ModelConfig::from_file(path); }),
            "[json] " + path + ": malformed JSON: [json.exception.out_of_range.406] number overflow parsing '1e400'");
  write_file_atomically(path, R"({"model_type": "bert", "num_labels": 2, "num_labels": 3})");
  EXPECT_EQ(test::error_of([&] { ModelConfig::from_file(path); }),
            "[json] " + path + ": malformed JSON: key \"num_labels\" appears twice in one object");
  std::filesystem::remove(path);
}

TEST(TaskHeads, NamesAndFlags) {
  EXPECT_EQ(architecture_name("distilbert", TaskHead::Base), "DistilBertModel");
  EXPECT_EQ(architecture_name("bert", TaskHead::MaskedLM), "BertForMaskedLM");
  EXPECT_EQ(architecture_name("distilbert", TaskHead::TokenClassification), "DistilBertForTokenClassification");
  EXPECT_EQ(architecture_name("bert", TaskHead::QuestionAnswering), "BertForQuestionAnswering");
  EXPECT_EQ(parse_task_head("masked-lm"), TaskHead::MaskedLM);
  EXPECT_EQ(parse_task_head("base"), TaskHead::Base);
  EXPECT_EQ(parse_task_head("question-answering"), TaskHead::QuestionAnswering);
  EXPECT_EQ(task_head_name(TaskHead::SequenceClassification), "sequence-classification");
  EXPECT_EQ(test::error_of([] { parse_task_head("mlm"); }),
            "[config] unknown task head \"mlm\" (expected base, sequence-classification, token-classification, "
            "masked-lm or question-answering)");

  ModelConfig config;
  config.architectures = {"BertForPreTraining"};
  EXPECT_EQ(head_from_architectures(config), TaskHead::MaskedLM);
  config.architectures = {"SomethingElse", "DistilBertForQuestionAnswering"};
  EXPECT_EQ(head_from_architectures(config), TaskHead::QuestionAnswering);
  config.architectures = {"BertModel"};
  EXPECT_EQ(head_from_architectures(config), TaskHead::Base);
}

// The registry's entries say where each family keeps its blocks (freezing groups read it) and build what
// the family's config names: one block per layer under that path, in both families.
TEST(ModelFamily, EachEntryDescribesTheModelItBuilds) {
  const nlohmann::json distilbert = {{"model_type", "distilbert"},
                                     {"vocab_size", 20},
                                     {"dim", 8},
                                     {"n_layers", 2},
                                     {"n_heads", 2},
                                     {"hidden_dim", 16},
                                     {"max_position_embeddings", 16}};
  const nlohmann::json bert = {{"model_type", "bert"},         {"vocab_size", 20},         {"hidden_size", 8},
                               {"num_hidden_layers", 2},       {"num_attention_heads", 2}, {"intermediate_size", 16},
                               {"max_position_embeddings", 16}};
  for (const nlohmann::json& json : {distilbert, bert}) {
    const ModelConfig config = ModelConfig::from_json(json, "inline");
    const ModelFamily& family = model_family(config.model_type, "test");
    EXPECT_EQ(family.model_type, config.model_type);
    const auto model = Model::from_config(config, TaskHead::SequenceClassification, 1);
    const std::string blocks = config.model_type + "." + family.blocks_path + ".";
    int64_t first_block = 0;
    int64_t second_block = 0;
    for (const auto& [name, parameter] : model->named_parameters()) {
      first_block += name.starts_with(blocks + "0.") ? 1 : 0;
      second_block += name.starts_with(blocks + "1.") ? 1 : 0;
    }
    EXPECT_GT(first_block, 0) << blocks;
    EXPECT_EQ(first_block, second_block) << blocks;
    EXPECT_EQ(model->config().architectures.front(),
              std::string(family.architecture_prefix) + "ForSequenceClassification");
  }
  EXPECT_EQ(test::error_of([] { model_family("roberta", "config.json"); }),
            "[config] config.json: unknown model_type \"roberta\" (graft supports distilbert and bert)");
}

}  // namespace
}  // namespace graft
