// A .safetensors file: open (header, offsets), then view and load every tensor as stored and as F32.
#include "fuzz_support.h"
#include "graft/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = graft::fuzz::write_scratch("input.safetensors", {reinterpret_cast<const char*>(data), size});
  graft::fuzz::expect_graft_errors_only([&] {
    const graft::SafetensorsFile file = graft::SafetensorsFile::open(path);
    for (const std::string& name : file.names()) {
      const graft::Tensor view = file.view(name);
      (void)file.load(name, view.dtype());
      (void)file.load(name, graft::DType::F32).to_float_vector();
    }
  });
  return 0;
}
