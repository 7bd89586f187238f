#pragma once
// Learning-rate schedules of Hugging Face transformers (optimization.py), as multipliers of a base rate:
// the rate of optimizer step s is base_lr * multiplier(s), computed in double as torch's LambdaLR does.
#include <cstdint>
#include <string>

namespace graft {

enum class ScheduleKind { Constant, ConstantWithWarmup, Linear, Cosine };

// "constant", "constant_with_warmup", "linear", "cosine" (Hugging Face's --lr_scheduler_type names).
ScheduleKind parse_schedule(const std::string& name);
std::string schedule_name(ScheduleKind kind);

// Hugging Face TrainingArguments.get_warmup_steps: warmup_steps when > 0, else ceil(ratio * total).
int64_t warmup_steps_for(int64_t warmup_steps, double warmup_ratio, int64_t total_steps);

class LRSchedule {
 public:
  // warmup_steps and total_steps are counted in optimizer steps; total_steps matters to linear and cosine.
  LRSchedule(ScheduleKind kind, double base_lr, int64_t warmup_steps, int64_t total_steps);

  double multiplier(int64_t step) const;
  double lr_at(int64_t step) const { return base_lr_ * multiplier(step); }

  ScheduleKind kind() const { return kind_; }
  double base_lr() const { return base_lr_; }

 private:
  double warmup_multiplier(int64_t step) const;
  double decay_multiplier(int64_t step) const;

  ScheduleKind kind_;
  double base_lr_;
  int64_t warmup_steps_;
  int64_t total_steps_;
};

}  // namespace graft
