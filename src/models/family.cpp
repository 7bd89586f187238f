#include "graft/models/family.h"

#include <array>

#include "graft/core/error.h"

namespace graft {

// Each defined in its family's file.
extern const ModelFamily kDistilBert;
extern const ModelFamily kBert;

namespace {

const std::array<const ModelFamily*, 2> kFamilies = {&kDistilBert, &kBert};

}  // namespace

const ModelFamily& model_family(std::string_view model_type, const std::string& source) {
  std::string known;
  for (const ModelFamily* family : kFamilies) {
    if (model_type == family->model_type) return *family;
    known += (known.empty() ? "" : family == kFamilies.back() ? " and " : ", ") + std::string(family->model_type);
  }
  throw Error("[config] " + source + ": unknown model_type \"" + std::string(model_type) + "\" (graft supports " +
              known + ")");
}

}  // namespace graft
