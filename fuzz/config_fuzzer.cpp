// config.json: parsed, read as a ModelConfig, written back and read again.
#include "fuzz_support.h"
#include "graft/core/json.h"
#include "graft/models/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  graft::fuzz::expect_graft_errors_only([&] {
    const nlohmann::json json = graft::parse_json({reinterpret_cast<const char*>(data), size}, "json", "config.json");
    const graft::ModelConfig config = graft::ModelConfig::from_json(json, "config.json");
    const graft::ModelConfig again = graft::ModelConfig::from_json(config.to_json(), "written config.json");
    if (again.to_json() != config.to_json()) __builtin_trap();  // a round trip must not change the config
    (void)graft::architecture_name(config.model_type, graft::head_from_architectures(config));
  });
  return 0;
}
