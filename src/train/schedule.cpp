#include "graft/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "graft/core/error.h"

namespace graft {
namespace {

// Hugging Face's get_cosine_schedule_with_warmup default: half a cosine period, from 1 down to 0.
constexpr double kCosineCycles = 0.5;

}  // namespace

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "constant") return ScheduleKind::Constant;
  if (name == "constant_with_warmup") return ScheduleKind::ConstantWithWarmup;
  if (name == "linear") return ScheduleKind::Linear;
  if (name == "cosine") return ScheduleKind::Cosine;
  throw Error("[schedule] unknown learning-rate schedule '" + name +
              "' (expected constant, constant_with_warmup, linear or cosine)");
}

std::string schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Constant: return "constant";
    case ScheduleKind::ConstantWithWarmup: return "constant_with_warmup";
    case ScheduleKind::Linear: return "linear";
    case ScheduleKind::Cosine: return "cosine";
  }
  throw Error("[schedule] invalid schedule kind");
}

int64_t warmup_steps_for(int64_t warmup_steps, double warmup_ratio, int64_t total_steps) {
  check(warmup_steps >= 0, "schedule", "warmup steps must be >= 0, got " + std::to_string(warmup_steps));
  check(warmup_ratio >= 0.0 && warmup_ratio <= 1.0, "schedule",
        "warmup ratio must be in [0, 1], got " + std::to_string(warmup_ratio));
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * warmup_ratio));
}

LRSchedule::LRSchedule(ScheduleKind kind, double base_lr, int64_t warmup_steps, int64_t total_steps)
    : kind_(kind), base_lr_(base_lr), warmup_steps_(warmup_steps), total_steps_(total_steps) {
  check(base_lr >= 0.0, "schedule", "learning rate must be >= 0, got " + std::to_string(base_lr));
  check(warmup_steps >= 0, "schedule", "warmup steps must be >= 0, got " + std::to_string(warmup_steps));
  check(total_steps >= 0, "schedule", "total steps must be >= 0, got " + std::to_string(total_steps));
}

double LRSchedule::warmup_multiplier(int64_t step) const {
  return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps_));
}

double LRSchedule::decay_multiplier(int64_t step) const {
  const double decay_steps = static_cast<double>(std::max<int64_t>(1, total_steps_ - warmup_steps_));
  switch (kind_) {
    case ScheduleKind::Constant:
    case ScheduleKind::ConstantWithWarmup: return 1.0;
    case ScheduleKind::Linear: return std::max(0.0, static_cast<double>(total_steps_ - step) / decay_steps);
    case ScheduleKind::Cosine: {
      const double progress = static_cast<double>(step - warmup_steps_) / decay_steps;
      return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * kCosineCycles * 2.0 * progress)));
    }
  }
  throw Error("[schedule] invalid schedule kind");
}

double LRSchedule::multiplier(int64_t step) const {
  check(step >= 0, "schedule", "step must be >= 0, got " + std::to_string(step));
  if (kind_ == ScheduleKind::Constant) return 1.0;
  if (step < warmup_steps_) return warmup_multiplier(step);
  return decay_multiplier(step);
}

}  // namespace graft
