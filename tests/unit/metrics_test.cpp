#include "graft/train/metrics.h"

#include <cmath>

#include "graft/core/error.h"
#include "test_support.h"

namespace graft {
namespace {

template <typename Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// Class 3 is predicted once but never true; every other class has some hits and some misses.
//   truth     0 0 0 1 1 2 2 2 2 0
//   predicted 0 1 0 1 2 2 2 0 3 0
ClassificationReport example_report() {
  return classification_report({0, 0, 0, 1, 1, 2, 2, 2, 2, 0}, {0, 1, 0, 1, 2, 2, 2, 0, 3, 0}, 4);
}

TEST(ClassificationReport, MatchesSklearnFormulas) {
  const ClassificationReport report = example_report();
  EXPECT_DOUBLE_EQ(report.accuracy, 0.6);
  EXPECT_EQ(report.confusion,
            (std::vector<std::vector<int64_t>>{{3, 1, 0, 0}, {0, 1, 1, 0}, {1, 0, 2, 1}, {0, 0, 0, 0}}));
  EXPECT_EQ(report.support, (std::vector<int64_t>{4, 2, 4, 0}));
  // precision = tp / predicted, recall = tp / support, f1 = 2tp / (2tp + fp + fn)
  const std::vector<double> precision{3.0 / 4, 1.0 / 2, 2.0 / 3, 0.0};
  const std::vector<double> recall{3.0 / 4, 1.0 / 2, 2.0 / 4, 0.0};
  const std::vector<double> f1{6.0 / 8, 2.0 / 4, 4.0 / 7, 0.0};
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_DOUBLE_EQ(report.precision[c], precision[c]) << "class " << c;
    EXPECT_DOUBLE_EQ(report.recall[c], recall[c]) << "class " << c;
    EXPECT_DOUBLE_EQ(report.f1[c], f1[c]) << "class " << c;
  }
  EXPECT_DOUBLE_EQ(report.macro_precision, (3.0 / 4 + 1.0 / 2 + 2.0 / 3) / 4);
  EXPECT_DOUBLE_EQ(report.macro_recall, (3.0 / 4 + 1.0 / 2 + 2.0 / 4) / 4);
  EXPECT_DOUBLE_EQ(report.macro_f1, (6.0 / 8 + 2.0 / 4 + 4.0 / 7) / 4);
}

TEST(ClassificationReport, NeverPredictedClassHasZeroPrecision) {
  const ClassificationReport report = classification_report({0, 1, 1}, {0, 0, 0}, 2);
  EXPECT_DOUBLE_EQ(report.precision[1], 0.0);
  EXPECT_DOUBLE_EQ(report.recall[1], 0.0);
  EXPECT_DOUBLE_EQ(report.f1[1], 0.0);
  EXPECT_DOUBLE_EQ(report.precision[0], 1.0 / 3);
  EXPECT_DOUBLE_EQ(report.f1[0], 2.0 / 4);
  EXPECT_DOUBLE_EQ(report.macro_f1, 0.25);
}

TEST(ClassificationReport, RejectsBadInput) {
  EXPECT_EQ(error_of([] { classification_report({0, 1}, {0}, 2); }), "[metrics] 2 true labels but 1 predictions");
  EXPECT_EQ(error_of([] { classification_report({}, {}, 2); }), "[metrics] no examples");
  EXPECT_EQ(error_of([] {
              classification_report({0, 2}, {0, 1}, 2);
            }),
            "[metrics] example 1: class ids 2, 1 outside [0, 2)");
  EXPECT_EQ(error_of([] { example_report().to_json({"a", "b"}); }), "[metrics] 2 label names for 4 classes");
}

TEST(ClassificationReport, Json) {
  const nlohmann::json json = example_report().to_json({"neg", "neu", "pos", "other"});
  EXPECT_DOUBLE_EQ(json["accuracy"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(json["per_label"]["pos"]["precision"].get<double>(), 2.0 / 3);
  EXPECT_EQ(json["per_label"]["neg"]["support"].get<int64_t>(), 4);
  EXPECT_EQ(json["labels"], nlohmann::json({"neg", "neu", "pos", "other"}));
  EXPECT_EQ(json["confusion"][2], nlohmann::json({1, 0, 2, 1}));
  EXPECT_DOUBLE_EQ(json["macro_recall"].get<double>(), 0.4375);
  EXPECT_EQ(example_report().to_json({})["labels"], nlohmann::json({"0", "1", "2", "3"}));
}

TEST(ClassificationReport, Table) {
  const ClassificationReport report = classification_report({0, 1, 1}, {0, 0, 1}, 2);
  EXPECT_EQ(report.to_table({"negative", "positive"}),
            "           precision     recall   f1-score    support\n"
            "\n"
            " negative     0.5000     1.0000     0.6667          1\n"
            " positive     1.0000     0.5000     0.6667          2\n"
            "\n"
            " accuracy                           0.6667          3\n"
            "macro avg     0.7500     0.7500     0.6667          3\n"
            "\n"
            "confusion matrix (rows: true label, columns: predicted label)\n"
            "          negative positive\n"
            " negative        1        0\n"
            " positive        1        1\n");
}

TEST(RegressionReport, MseMaePearsonSpearman) {
  const RegressionReport report = regression_report({1, 2, 3, 4}, {1, 3, 2, 5});
  EXPECT_DOUBLE_EQ(report.mse, 0.75);
  EXPECT_DOUBLE_EQ(report.mae, 0.75);
  EXPECT_DOUBLE_EQ(report.pearson, 5.5 / std::sqrt(5.0 * 8.75));
  EXPECT_DOUBLE_EQ(report.spearman, 0.8);
  EXPECT_DOUBLE_EQ(report.to_json()["spearman"].get<double>(), 0.8);
}

TEST(RegressionReport, TiesShareTheirAverageRank) {
  // ranks of the truth: 1, 2.5, 2.5, 4
  EXPECT_DOUBLE_EQ(regression_report({1, 2, 2, 3}, {1, 2, 3, 4}).spearman, 4.5 / std::sqrt(4.5 * 5.0));
}

TEST(RegressionReport, ConstantSideHasNoCorrelation) {
  const RegressionReport report = regression_report({1, 2, 3}, {2, 2, 2});
  EXPECT_TRUE(std::isnan(report.pearson));
  EXPECT_DOUBLE_EQ(report.mse, 2.0 / 3);
  EXPECT_TRUE(report.to_json()["pearson"].is_null());
  EXPECT_EQ(error_of([] { regression_report({1, 2}, {1}); }), "[metrics] 2 true values but 1 predictions");
}

TEST(MultiLabelReport, MicroMacroSubsetAndHamming) {
  const MultiLabelReport report =
      multilabel_report({{1, 0, 1}, {0, 1, 0}, {1, 1, 0}}, {{1, 0, 0}, {0, 1, 0}, {1, 0, 1}});
  EXPECT_EQ(report.precision, (std::vector<double>{1.0, 1.0, 0.0}));
  EXPECT_EQ(report.recall, (std::vector<double>{1.0, 0.5, 0.0}));
  EXPECT_DOUBLE_EQ(report.f1[1], 2.0 / 3);
  EXPECT_EQ(report.support, (std::vector<int64_t>{2, 2, 1}));
  // Pooled over labels: 3 true positives, 1 false positive, 2 false negatives.
  EXPECT_DOUBLE_EQ(report.micro_precision, 0.75);
  EXPECT_DOUBLE_EQ(report.micro_recall, 0.6);
  EXPECT_DOUBLE_EQ(report.micro_f1, 6.0 / 9);
  EXPECT_DOUBLE_EQ(report.macro_precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(report.macro_recall, 0.5);
  EXPECT_DOUBLE_EQ(report.macro_f1, 5.0 / 9);
  EXPECT_DOUBLE_EQ(report.subset_accuracy, 1.0 / 3);
  EXPECT_DOUBLE_EQ(report.hamming_loss, 3.0 / 9);
  EXPECT_DOUBLE_EQ(report.to_json({"a", "b", "c"})["per_label"]["b"]["recall"].get<double>(), 0.5);
}

TEST(MultiLabelReport, RejectsBadShapes) {
  EXPECT_EQ(error_of([] {
              multilabel_report({{1, 0}, {0, 1}}, {{1, 0}, {0}});
            }),
            "[metrics] row 1 does not have 2 labels");
  EXPECT_EQ(error_of([] { multilabel_report({{1, 2}}, {{1, 0}}); }), "[metrics] row 0 holds a value other than 0 or 1");
}

}  // namespace
}  // namespace graft
