#pragma once
// What a forward pass keeps for its backward, in an object the caller owns: one per forward in flight. Modules
// hold weights and settings, never activations, so one loaded model serves many threads at once, each with its
// own context; under a NoGradGuard a forward keeps nothing at all.
//
//   ForwardContext context;
//   const ModelOutput output = model.forward(batch, context);
//   model.backward(context);  // takes back what the forward kept, freeing it
//
// Each module saves under its own address, as a stack: a module run twice in one forward gets its two saves back
// last first, as autograd's graph would give them.
//
// What may run at once on one model: inference forwards (pipelines, evaluation), each with its own context.
// Not alongside them: a training forward (its dropout draws advance the model's generator, unless its context
// brings a generator of its own), a backward (it accumulates into the gradients) or set_training.
#include <any>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "graft/core/error.h"
#include "graft/core/grad_mode.h"
#include "graft/core/random.h"

namespace graft {

class Module;

class ForwardContext {
 public:
  ForwardContext() = default;
  // Not copied: a copy would let two backwards take the same activations and add their gradients twice.
  ForwardContext(const ForwardContext&) = delete;
  ForwardContext& operator=(const ForwardContext&) = delete;
  ForwardContext(ForwardContext&&) = default;
  ForwardContext& operator=(ForwardContext&&) = default;

  // Keeps `saved` for the backward of `owner` while gradients are on (core/grad_mode.h); does nothing otherwise.
  template <typename Saved>
  void save(const void* owner, Saved saved) {
    if (grad_enabled()) saved_[owner].emplace_back(std::move(saved));
  }

  // What the latest forward of `owner` kept, handed over and forgotten: a backward frees what its forward kept
  // (as autograd does without retain_graph). graft::Error naming `op` when nothing is kept: the forward ran under
  // a NoGradGuard, with another context, or its backward already ran.
  template <typename Saved>
  Saved take(const void* owner, const char* op) {
    const auto found = saved_.find(owner);
    check(found != saved_.end() && !found->second.empty(), op,
          "backward() with no activations kept: a forward keeps them in the context it is given, a forward that "
          "ran under NoGradGuard keeps no activations, and a backward frees those of its forward");
    Saved saved = std::any_cast<Saved>(std::move(found->second.back()));
    found->second.pop_back();
    if (found->second.empty()) saved_.erase(found);
    return saved;
  }

  // True when nothing is kept, as after an inference forward.
  bool empty() const { return saved_.empty(); }

  // Where a training forward's dropout masks come from.
  struct Draws {
    Generator* generator = nullptr;  // none: each Dropout layer's own (the model's)
    // The forward's batch is rows [first_row, first_row + B) of a larger one, and draws those rows' values of the
    // larger batch's masks: a data-parallel rank's share gets one process's masks, whatever the other ranks compute.
    int64_t first_row = 0;
  };
  void draw_from(Generator& generator, int64_t first_row = 0) { draws_ = {&generator, first_row}; }
  const Draws& draws() const { return draws_; }

  // Called by a model's backward as it finishes a part (the head, the pooler, each encoder block) whose parameters'
  // gradients are then final for this backward: a data-parallel step starts summing them over the ranks while the
  // backward goes on.
  void on_backward_done(std::function<void(const Module&)> callback) { backward_done_ = std::move(callback); }
  void backward_done(const Module& part) const {
    if (backward_done_) backward_done_(part);
  }

 private:
  std::unordered_map<const void*, std::vector<std::any>> saved_;
  Draws draws_;
  std::function<void(const Module&)> backward_done_;
};

}  // namespace graft
