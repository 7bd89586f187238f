#pragma once
// A named trainable tensor: its value, its gradient (allocated only while it is trainable) and its
// flag. Names are Hugging Face's ("distilbert.transformer.layer.0.attention.q_lin.weight").
#include <string>
#include <vector>

#include "graft/core/tensor.h"

namespace graft {

struct Parameter {
  std::string name;
  Tensor value;
  Tensor grad;  // same shape as value; undefined while frozen
  bool trainable = true;
  // Decoupled weight decay applies to this parameter (not to biases and LayerNorm weights).
  bool decay = true;

  void ensure_grad();
  void zero_grad();
};

using ParameterList = std::vector<Parameter*>;

}  // namespace graft
