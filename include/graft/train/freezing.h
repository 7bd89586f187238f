#pragma once
// Choosing what trains, by module path, as Keras' recursive `layer.trainable = False` does; the
// parameter tree that shows the result (Keras' model.summary()); and the two fine-tuning schedules built
// on the layer structure: gradual unfreezing (ULMFiT) and layer-wise learning-rate decay.
#include <cstdint>
#include <string>
#include <vector>

#include "graft/models/model.h"
#include "graft/models/module.h"
#include "graft/train/optimizer.h"

namespace graft {

// Sets `trainable` on every parameter the pattern names and returns how many it named. The pattern is an
// fnmatch(3) glob over dotted parameter names in which `*` crosses dots and `[0-3]` is a class; it names a
// parameter when it matches the full name or a module path above it, so "distilbert", "distilbert.*",
// "distilbert.transformer.layer.[0-3].*" and "classifier" all work; "all" names every parameter.
// Fixed tables (DistilBERT's sinusoidal position embeddings) stay frozen. A pattern that names nothing is
// a graft::Error listing some module paths.
int64_t set_trainable(Module& model, const std::string& pattern, bool trainable);
void freeze(Module& model, const std::vector<std::string>& patterns);
void unfreeze(Module& model, const std::vector<std::string>& patterns);

// "none": everything trains; otherwise comma-separated patterns to freeze ("all" among them), everything
// else trains.
void apply_freeze_spec(Module& model, const std::string& spec);

// An indented tree of module paths down to max_depth, each with its trainable and frozen element counts,
// then "Trainable: 1,234 | Frozen: 66,362,880 | Total: 66,364,114".
std::string parameter_tree(const Module& model, int max_depth = 4);

// Parameter-name prefixes grouped from the top of the network: the head (everything outside the encoder,
// and BERT's pooler), encoder layer N-1, ..., layer 0, then the embeddings. A base model, having no head,
// starts at its top layer (BERT's pooler then forms the first group).
std::vector<std::vector<std::string>> layer_groups(const Model& model);

// Gradual unfreezing: freezes everything, then unfreezes the top `count` groups of layer_groups (all of
// them when count exceeds their number).
void unfreeze_top_groups(Model& model, int64_t count);

// Layer-wise learning-rate decay: the g-th group of layer_groups gets lr_scale decay^g (head 1, top layer
// decay, ..., embeddings decay^(L+1)). Only trainable parameters are included; groups left empty are
// dropped.
std::vector<ParamGroup> layerwise_lr_groups(const Model& model, double decay);

}  // namespace graft
