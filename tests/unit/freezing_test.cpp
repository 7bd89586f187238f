// Freezing by module path, the parameter tree, gradual unfreezing groups and layer-wise learning-rate
// decay, on small models built from a config and on the golden DistilBERT and BERT checkpoints.
#include "graft/train/freezing.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "graft/core/error.h"
#include "test_support.h"

namespace graft {
namespace {

using Names = std::set<std::string>;

// 3 layers, vocabulary 50, width 8, feed-forward 16, 16 positions, 2 labels:
// embeddings 50*8 + 16*8 + 2*8 = 544; each layer 4*(8*8+8) + 2*16 + (8*16+16) + (16*8+8) = 600;
// pre_classifier 8*8+8 = 72; classifier 2*8+2 = 18.
ModelConfig small_config(const std::string& model_type) {
  ModelConfig config;
  config.model_type = model_type;
  config.vocab_size = 50;
  config.hidden_size = 8;
  config.num_hidden_layers = 3;
  config.num_attention_heads = 2;
  config.intermediate_size = 16;
  config.max_position_embeddings = 16;
  config.type_vocab_size = model_type == "bert" ? 2 : 0;
  config.set_num_labels(2);
  return config;
}

std::unique_ptr<Model> small_distilbert(TaskHead task = TaskHead::SequenceClassification) {
  return Model::from_config(small_config("distilbert"), task);
}

std::unique_ptr<Model> golden_model(const std::string& name) {
  return Model::from_pretrained(test::golden_dir() + "/" + name + "/checkpoint");
}

Names trainable_names(const Module& model) {
  Names names;
  for (const auto& [name, parameter] : model.named_parameters()) {
    if (parameter->trainable) names.insert(name);
  }
  return names;
}

Names all_names(const Module& model) {
  Names names;
  for (const auto& [name, parameter] : model.named_parameters()) names.insert(name);
  return names;
}

// The parameters whose names start with "prefix.".
Names names_under(const Module& model, const std::string& prefix) {
  Names names;
  for (const auto& [name, parameter] : model.named_parameters()) {
    if (name.starts_with(prefix + ".")) names.insert(name);
  }
  return names;
}

Names without(Names names, const Names& removed) {
  for (const std::string& name : removed) names.erase(name);
  return names;
}

const Names kDistilBertHead = {"pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias"};

TEST(SetTrainable, FreezingTheEncoderLeavesExactlyTheHead) {
  for (const std::string pattern : {"distilbert.*", "distilbert"}) {
    auto model = small_distilbert();
    EXPECT_EQ(set_trainable(*model, pattern, false), 4 + 3 * 16) << pattern;
    EXPECT_EQ(trainable_names(*model), kDistilBertHead) << pattern;
  }
}

TEST(SetTrainable, AClassSelectsLayersAndAModuleNameIsNotAPrefixOfAnother) {
  auto model = small_distilbert();
  EXPECT_EQ(set_trainable(*model, "distilbert.transformer.layer.[0-0].*", false), 16);
  EXPECT_EQ(trainable_names(*model), without(all_names(*model), names_under(*model, "distilbert.transformer.layer.0")));

  EXPECT_EQ(set_trainable(*model, "classifier", false), 2);
  EXPECT_TRUE(model->named_parameters().back().second->trainable == false);
  EXPECT_EQ(trainable_names(*model).count("pre_classifier.weight"), 1U);

  EXPECT_EQ(set_trainable(*model, "distilbert.transformer.layer.[1-2]", false), 32);
  EXPECT_EQ(set_trainable(*model, "*.attention.q_lin.weight", true), 3);
  EXPECT_EQ(set_trainable(*model, "all", true), 4 + 3 * 16 + 4);
  EXPECT_EQ(trainable_names(*model), all_names(*model));
}

TEST(SetTrainable, FreezingReleasesTheGradient) {
  auto model = small_distilbert();
  Parameter* classifier_weight = model->named_parameters().back().second;
  classifier_weight->ensure_grad();
  ASSERT_GT(classifier_weight->grad.numel(), 0);
  freeze(*model, {"classifier"});
  EXPECT_EQ(classifier_weight->grad.numel(), 0);
}

TEST(SetTrainable, APatternThatNamesNothingListsModulePaths) {
  auto model = small_distilbert();
  EXPECT_EQ(test::error_of([&] { set_trainable(*model, "distilbert.decoder", false); }),
            "[freeze] 'distilbert.decoder' names no parameter; module paths include: distilbert, "
            "distilbert.embeddings, distilbert.transformer, pre_classifier, classifier");
  EXPECT_THROW(freeze(*model, {"classifier", "distilbert.transformer.layer.3"}), Error);
}

// The frozen bottom (embeddings, layer 0) runs without keeping activations; the layers above it must get the
// gradients they get when everything trains.
TEST(SetTrainable, AFrozenBottomLeavesTheGradientsAboveItUnchanged) {
  ForwardContext context;
  for (const std::string family : {"distilbert", "bert"}) {
    auto everything = Model::from_config(small_config(family), TaskHead::SequenceClassification, 5);
    auto top_only = Model::from_config(small_config(family), TaskHead::SequenceClassification, 5);
    const std::string prefix = family == "bert" ? "bert.encoder.layer" : "distilbert.transformer.layer";
    freeze(*top_only, {family + ".embeddings", prefix + ".0"});
    Batch batch;
    batch.input_ids = Tensor::from_vector(std::vector<int64_t>{3, 7, 11, 2, 5, 9, 13, 0}, {2, 4});
    batch.attention_mask = Tensor::from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 0}, {2, 4});
    batch.labels = Tensor::from_vector(std::vector<int64_t>{1, 0}, {2});
    for (auto* model : {everything.get(), top_only.get()}) {
      model->set_training(false);  // no dropout: the two forwards are the same
      model->forward(batch, context);
      model->backward(context);
    }
    const auto full = everything->named_parameters();
    const auto partial = top_only->named_parameters();
    int compared = 0;
    for (size_t i = 0; i < full.size(); ++i) {
      if (!partial[i].second->trainable) continue;
      EXPECT_LE(test::max_abs_diff(partial[i].second->grad, full[i].second->grad), 1e-6) << partial[i].first;
      ++compared;
    }
    EXPECT_GT(compared, 10) << family;
  }
}

TEST(SetTrainable, TheSinusoidalPositionTableStaysFrozen) {
  ModelConfig config = small_config("distilbert");
  config.sinusoidal_pos_embds = true;
  auto model = Model::from_config(config, TaskHead::SequenceClassification);
  const std::string table = "distilbert.embeddings.position_embeddings.weight";
  ASSERT_EQ(trainable_names(*model).count(table), 0U);
  apply_freeze_spec(*model, "none");
  EXPECT_EQ(trainable_names(*model), without(all_names(*model), {table}));
  EXPECT_EQ(set_trainable(*model, "distilbert.embeddings", true), 4);
  EXPECT_EQ(trainable_names(*model).count(table), 0U);
}

TEST(FreezeSpec, FreezesTheListedPatternsAndTrainsTheRest) {
  auto model = small_distilbert();
  freeze(*model, {"classifier", "pre_classifier"});
  apply_freeze_spec(*model, " distilbert.embeddings , distilbert.transformer.layer.0");
  Names frozen = names_under(*model, "distilbert.embeddings");
  frozen.merge(names_under(*model, "distilbert.transformer.layer.0"));
  EXPECT_EQ(trainable_names(*model), without(all_names(*model), frozen));

  apply_freeze_spec(*model, "all");
  EXPECT_TRUE(trainable_names(*model).empty());
  apply_freeze_spec(*model, "none");
  EXPECT_EQ(trainable_names(*model), all_names(*model));

  EXPECT_EQ(test::error_of([&] { apply_freeze_spec(*model, "classifier,,distilbert"); }),
            "[freeze] empty pattern in freeze spec 'classifier,,distilbert'");
  EXPECT_THROW(apply_freeze_spec(*model, " "), Error);
  unfreeze(*model, {"all"});
  EXPECT_EQ(trainable_names(*model), all_names(*model));
}

TEST(ParameterTree, ShowsTrainableAndFrozenCountsPerModule) {
  auto model = small_distilbert();
  freeze(*model, {"distilbert.embeddings", "distilbert.transformer.layer.0"});
  EXPECT_EQ(parameter_tree(*model, 3),
            "Module                   Trainable     Frozen\n"
            "distilbert                   1,200      1,144\n"
            "  embeddings                     0        544\n"
            "    word_embeddings              0        400\n"
            "    position_embeddings          0        128\n"
            "    LayerNorm                    0         16\n"
            "  transformer                1,200        600\n"
            "    layer                    1,200        600\n"
            "pre_classifier                  72          0\n"
            "classifier                      18          0\n"
            "Trainable: 1,290 | Frozen: 1,144 | Total: 2,434\n");
}

int64_t total_numel(const Module& model) {
  int64_t total = 0;
  for (const auto& [name, parameter] : model.named_parameters()) total += parameter->value.numel();
  return total;
}

// "1,234" -> 1234
int64_t without_commas(std::string text) {
  std::erase(text, ',');
  return std::stoll(text);
}

TEST(ParameterTree, TotalsOfTheGoldenModelsAreTheirParameterCounts) {
  GRAFT_REQUIRE_GOLDEN();
  for (const std::string name : {"distilbert_seqcls", "bert_seqcls"}) {
    auto model = golden_model(name);
    freeze(*model, {model->config().model_type});
    const int64_t head = total_numel(*model) - total_numel(model->encoder());
    const std::string tree = parameter_tree(*model);
    const size_t totals = tree.rfind("Trainable: ");
    ASSERT_NE(totals, std::string::npos) << tree;
    const std::string expected = "Trainable: " + std::to_string(head) +
                                 " | Frozen: " + std::to_string(total_numel(model->encoder())) +
                                 " | Total: " + std::to_string(total_numel(*model)) + "\n";
    std::string actual = tree.substr(totals);
    std::erase(actual, ',');
    EXPECT_EQ(actual, expected) << name;
    // Layers are at depth 4: "distilbert.transformer.layer.0" / "bert.encoder.layer.0".
    EXPECT_NE(tree.find("\n      0 "), std::string::npos) << tree;
    EXPECT_EQ(without_commas(tree.substr(tree.rfind("Total: ") + 7)), total_numel(*model));
  }
}

std::vector<std::vector<std::string>> groups_of(const std::string& family) {
  return layer_groups(*Model::from_config(small_config(family), TaskHead::SequenceClassification));
}

TEST(LayerGroups, RunFromTheHeadThroughEachLayerToTheEmbeddings) {
  EXPECT_EQ(groups_of("distilbert"), (std::vector<std::vector<std::string>>{{"pre_classifier", "classifier"},
                                                                            {"distilbert.transformer.layer.2"},
                                                                            {"distilbert.transformer.layer.1"},
                                                                            {"distilbert.transformer.layer.0"},
                                                                            {"distilbert.embeddings"}}));
  EXPECT_EQ(groups_of("bert"), (std::vector<std::vector<std::string>>{{"bert.pooler", "classifier"},
                                                                      {"bert.encoder.layer.2"},
                                                                      {"bert.encoder.layer.1"},
                                                                      {"bert.encoder.layer.0"},
                                                                      {"bert.embeddings"}}));
  auto base = small_distilbert(TaskHead::Base);
  EXPECT_EQ(layer_groups(*base).front(), std::vector<std::string>{"distilbert.transformer.layer.2"});
  EXPECT_EQ(layer_groups(*base).size(), 4U);
}

TEST(UnfreezeTopGroups, UnfreezesTheHeadThenLayersFromTheTop) {
  auto model = small_distilbert();
  unfreeze_top_groups(*model, 0);
  EXPECT_TRUE(trainable_names(*model).empty());
  unfreeze_top_groups(*model, 1);
  EXPECT_EQ(trainable_names(*model), kDistilBertHead);
  unfreeze_top_groups(*model, 2);
  Names expected = kDistilBertHead;
  expected.merge(names_under(*model, "distilbert.transformer.layer.2"));
  EXPECT_EQ(trainable_names(*model), expected);
  unfreeze_top_groups(*model, 99);
  EXPECT_EQ(trainable_names(*model), all_names(*model));
  EXPECT_THROW(unfreeze_top_groups(*model, -1), Error);
}

TEST(UnfreezeTopGroups, GoldenCheckpointsTrainHeadAndTopLayer) {
  GRAFT_REQUIRE_GOLDEN();
  auto distilbert = golden_model("distilbert_seqcls");
  unfreeze_top_groups(*distilbert, 2);
  Names expected = kDistilBertHead;
  expected.merge(names_under(*distilbert, "distilbert.transformer.layer.1"));
  EXPECT_EQ(trainable_names(*distilbert), expected);

  auto bert = golden_model("bert_seqcls");
  unfreeze_top_groups(*bert, 2);
  Names bert_expected = {"classifier.weight", "classifier.bias"};
  bert_expected.merge(names_under(*bert, "bert.pooler"));
  bert_expected.merge(names_under(*bert, "bert.encoder.layer.1"));
  EXPECT_EQ(bert_expected.size(), 2U + 2U + 16U);
  EXPECT_EQ(trainable_names(*bert), bert_expected);
}

Names names_of(const ParameterList& params) {
  Names names;
  for (const Parameter* parameter : params) names.insert(parameter->name);
  return names;
}

TEST(LayerwiseLrGroups, ScalesDecayGeometricallyFromTheHead) {
  GRAFT_REQUIRE_GOLDEN();
  for (const std::string name : {"distilbert_seqcls", "bert_seqcls"}) {
    auto model = golden_model(name);
    const std::vector<ParamGroup> groups = layerwise_lr_groups(*model, 0.5);
    ASSERT_EQ(groups.size(), 4U) << name;
    const std::vector<double> scales = {1.0, 0.5, 0.25, 0.125};
    const auto expected_groups = layer_groups(*model);
    size_t covered = 0;
    for (size_t group = 0; group < groups.size(); ++group) {
      EXPECT_EQ(groups[group].lr_scale, scales[group]) << name << " group " << group;
      Names expected;
      for (const std::string& prefix : expected_groups[group]) expected.merge(names_under(*model, prefix));
      EXPECT_EQ(names_of(groups[group].params), expected) << name << " group " << group;
      covered += groups[group].params.size();
    }
    EXPECT_EQ(covered, model->named_parameters().size()) << name;
  }
}

TEST(LayerwiseLrGroups, LeavesOutFrozenParametersAndEmptyGroups) {
  auto model = small_distilbert();
  freeze(*model, {"distilbert.embeddings", "distilbert.transformer.layer.1.*", "pre_classifier"});
  const std::vector<ParamGroup> groups = layerwise_lr_groups(*model, 0.8);
  ASSERT_EQ(groups.size(), 3U);
  EXPECT_EQ(names_of(groups[0].params), (Names{"classifier.weight", "classifier.bias"}));
  EXPECT_EQ(groups[0].lr_scale, 1.0);
  EXPECT_EQ(names_of(groups[1].params), names_under(*model, "distilbert.transformer.layer.2"));
  EXPECT_EQ(groups[1].lr_scale, 0.8);
  EXPECT_EQ(names_of(groups[2].params), names_under(*model, "distilbert.transformer.layer.0"));
  EXPECT_DOUBLE_EQ(groups[2].lr_scale, 0.8 * 0.8 * 0.8);
  EXPECT_THROW(layerwise_lr_groups(*model, 0.0), Error);
}

}  // namespace
}  // namespace graft
