// config.json: parsed and read as a ModelConfig; what graft writes back must read back the same.
#include "fuzz_support.h"
#include "graft/core/json.h"
#include "graft/models/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<graft::ModelConfig> config;
  graft::fuzz::expect_graft_errors_only([&] {
    const nlohmann::json json = graft::parse_json({reinterpret_cast<const char*>(data), size}, "json", "config.json");
    config = graft::ModelConfig::from_json(json, "config.json");
  });
  // A million labels is valid and slow to copy twice more; the round trip is checked on the rest.
  if (!config || config->num_labels > 4096) return 0;
  const nlohmann::json written = config->to_json();
  if (graft::ModelConfig::from_json(written, "written config.json").to_json() != written) __builtin_trap();
  (void)graft::architecture_name(config->model_type, graft::head_from_architectures(*config));
  return 0;
}
