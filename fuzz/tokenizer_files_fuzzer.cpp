// A tokenizer folder from one input: tokenizer.json, tokenizer_config.json and vocab.txt, cut at "\n--\n" (an
// empty first part: no tokenizer.json, so vocab.txt is read). Loaded, used on a text, saved and loaded again.
#include "fuzz_support.h"
#include "graft/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto files = graft::fuzz::parts({reinterpret_cast<const char*>(data), size}, 3);
  const std::string dir = graft::fuzz::scratch_dir() + "/tokenizer";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const char* names[] = {"tokenizer.json", "tokenizer_config.json", "vocab.txt"};
  for (size_t i = 0; i < files.size(); ++i) {
    if (i == 0 && files[i].empty()) continue;
    graft::fuzz::write_scratch(std::string("tokenizer/") + names[i], files[i]);
  }
  std::optional<graft::Tokenizer> tokenizer;
  graft::fuzz::expect_graft_errors_only([&] { tokenizer = graft::Tokenizer::from_pretrained(dir); });
  if (!tokenizer) return 0;
  const char* text = "Hello, the [MASK] Café played 中文!";
  std::vector<int64_t> ids;
  graft::fuzz::expect_graft_errors_only([&] {
    ids = tokenizer->encode_pair(text, "a second text").ids;
    (void)tokenizer->decode(ids);
  });
  // What graft saves must load back, and tokenize as the original did: an error here is a crash.
  const std::string saved = dir + "-saved";
  std::filesystem::remove_all(saved);
  tokenizer->save_pretrained(saved);
  const graft::Tokenizer reloaded = graft::Tokenizer::from_pretrained(saved);
  std::vector<int64_t> reloaded_ids;
  graft::fuzz::expect_graft_errors_only([&] { reloaded_ids = reloaded.encode_pair(text, "a second text").ids; });
  if (reloaded_ids != ids) __builtin_trap();
  return 0;
}
