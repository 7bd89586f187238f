// Learning-rate schedules against Hugging Face's lambdas written out, and the golden training logs.
#include "graft/train/schedule.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <vector>

#include "graft/core/error.h"
#include "test_support.h"

namespace graft {
namespace {

TEST(LRSchedule, LinearMatchesGoldenTrainingLog) {
  // The lr logged by torch for warmup 2, total 6, lr 1e-3 (shared/golden/distilbert_seqcls/meta.json).
  const std::vector<double> logged = {0.0, 0.0005, 0.001, 0.00075, 0.0005, 0.00025};
  const LRSchedule schedule(ScheduleKind::Linear, 1e-3, 2, 6);
  for (int64_t step = 0; step < 6; ++step) EXPECT_EQ(schedule.lr_at(step), logged[step]) << "step " << step;
  EXPECT_EQ(schedule.lr_at(6), 0.0);
  EXPECT_EQ(schedule.lr_at(9), 0.0);  // past the end: clamped at 0, never negative
}

TEST(LRSchedule, LinearMatchesEveryGoldenLog) {
  GRAFT_REQUIRE_GOLDEN();
  for (const char* model : {"distilbert_seqcls", "bert_seqcls"}) {
    std::ifstream file(test::golden_dir() + "/" + model + "/meta.json");
    ASSERT_TRUE(file) << model;
    const nlohmann::json meta = nlohmann::json::parse(file);
    const nlohmann::json& spec = meta.at("train_spec");
    const LRSchedule schedule(ScheduleKind::Linear, spec.at("lr").get<double>(), spec.at("warmup_steps").get<int64_t>(),
                              spec.at("total_steps").get<int64_t>());
    for (const char* log : {"full_finetune_log", "frozen_base_log"}) {
      if (!meta.contains(log)) continue;
      for (const auto& entry : meta.at(log)) {
        const int64_t step = entry.at("step").get<int64_t>();
        EXPECT_EQ(schedule.lr_at(step), entry.at("lr").get<double>()) << model << " " << log << " step " << step;
      }
    }
  }
}

TEST(LRSchedule, CosineFollowsHalfCosineAfterWarmup) {
  // Hugging Face: max(0, 0.5 * (1 + cos(pi * 0.5 * 2 * progress))), progress = (s - w) / (T - w).
  const LRSchedule schedule(ScheduleKind::Cosine, 2e-5, 2, 6);
  const std::vector<double> multipliers = {0.0, 0.5, 1.0, 0.8535533905932737, 0.5, 0.14644660940672627, 0.0};
  for (int64_t step = 0; step <= 6; ++step) {
    EXPECT_NEAR(schedule.multiplier(step), multipliers[step], 1e-15) << "step " << step;
    EXPECT_NEAR(schedule.lr_at(step), 2e-5 * multipliers[step], 1e-20) << "step " << step;
  }
  // HF does not clamp progress: past the end the cosine rises again.
  EXPECT_NEAR(schedule.multiplier(7), 0.5 * (1 + std::cos(std::numbers::pi * 1.25)), 1e-15);
}

TEST(LRSchedule, ConstantWithWarmupAndConstant) {
  const LRSchedule warmup(ScheduleKind::ConstantWithWarmup, 1.0, 4, 100);
  const std::vector<double> expected = {0.0, 0.25, 0.5, 0.75, 1.0, 1.0};
  for (int64_t step = 0; step < 6; ++step) EXPECT_EQ(warmup.lr_at(step), expected[step]) << "step " << step;
  EXPECT_EQ(warmup.lr_at(1000), 1.0);
  const LRSchedule constant(ScheduleKind::Constant, 3e-4, 10, 100);
  for (int64_t step : {0, 1, 5, 99, 500}) EXPECT_EQ(constant.lr_at(step), 3e-4);
}

TEST(LRSchedule, ZeroWarmupStartsAtFullRate) {
  const LRSchedule schedule(ScheduleKind::Linear, 1.0, 0, 4);
  const std::vector<double> expected = {1.0, 0.75, 0.5, 0.25, 0.0};
  for (int64_t step = 0; step <= 4; ++step) EXPECT_EQ(schedule.multiplier(step), expected[step]);
}

TEST(LRSchedule, ParsesHuggingFaceNames) {
  EXPECT_EQ(parse_schedule("linear"), ScheduleKind::Linear);
  EXPECT_EQ(parse_schedule("cosine"), ScheduleKind::Cosine);
  EXPECT_EQ(parse_schedule("constant"), ScheduleKind::Constant);
  EXPECT_EQ(parse_schedule("constant_with_warmup"), ScheduleKind::ConstantWithWarmup);
  for (ScheduleKind kind :
       {ScheduleKind::Constant, ScheduleKind::ConstantWithWarmup, ScheduleKind::Linear, ScheduleKind::Cosine}) {
    EXPECT_EQ(parse_schedule(schedule_name(kind)), kind);
  }
  EXPECT_THROW(parse_schedule("polynomial"), Error);
  EXPECT_THROW(LRSchedule(ScheduleKind::Linear, 1e-3, -1, 10), Error);
  EXPECT_THROW(LRSchedule(ScheduleKind::Linear, 1e-3, 0, 10).lr_at(-1), Error);
}

TEST(WarmupSteps, StepsWinOverRatioWhichRoundsUp) {
  EXPECT_EQ(warmup_steps_for(3, 0.5, 100), 3);
  EXPECT_EQ(warmup_steps_for(0, 0.1, 95), 10);  // ceil(9.5)
  EXPECT_EQ(warmup_steps_for(0, 0.0, 95), 0);
  EXPECT_THROW(warmup_steps_for(0, 1.5, 95), Error);
}

}  // namespace
}  // namespace graft
