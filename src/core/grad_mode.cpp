#include "graft/core/grad_mode.h"

namespace graft {
namespace {
thread_local bool grad_mode_enabled = true;
}  // namespace

bool grad_enabled() {
  return grad_mode_enabled;
}

NoGradGuard::NoGradGuard() : previous_(grad_mode_enabled) {
  grad_mode_enabled = false;
}

NoGradGuard::~NoGradGuard() {
  grad_mode_enabled = previous_;
}

}  // namespace graft
