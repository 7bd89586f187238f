#pragma once
// torch.no_grad() for graft. While a NoGradGuard lives on a thread, layers keep nothing for a backward
// pass, so a forward pass holds one layer's activations at a time instead of the whole network's: what
// evaluation, pipelines and serving want. A backward after such a forward is an error.
namespace graft {

bool grad_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
  NoGradGuard(NoGradGuard&&) = delete;
  NoGradGuard& operator=(NoGradGuard&&) = delete;

 private:
  bool previous_;
};

}  // namespace graft
