// Text through the tiny fixture tokenizer with options taken from the first bytes: special tokens, max_length,
// truncation, padding, a second text after "\n--\n", windows with a stride; then decoded.
#include "fuzz_support.h"
#include "graft/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const graft::Tokenizer tokenizer = graft::Tokenizer::from_pretrained(GRAFT_FUZZ_TOKENIZER_DIR);
  if (size < 3) return 0;
  graft::EncodeOptions options;
  options.add_special_tokens = (data[0] & 1) != 0;
  options.truncation = static_cast<graft::Truncation>((data[0] >> 1) % 4);
  options.padding = static_cast<graft::Padding>((data[0] >> 3) % 3);
  options.pad_to_multiple_of = (data[0] >> 5) % 4;
  if (data[1] != 0) options.max_length = static_cast<int64_t>(data[1]) - 8;  // some negative
  const int64_t stride = static_cast<int64_t>(data[2] % 16) - 2;
  const auto texts = graft::fuzz::parts({reinterpret_cast<const char*>(data + 3), size - 3}, 2);
  graft::fuzz::expect_graft_errors_only([&] {
    const graft::Encoding encoding =
        texts.size() == 2 ? tokenizer.encode_pair(texts[0], texts[1], options) : tokenizer.encode(texts[0], options);
    (void)tokenizer.decode(encoding.ids, (data[0] & 2) != 0);
  });
  graft::fuzz::expect_graft_errors_only([&] {
    for (const graft::Encoding& window : tokenizer.encode_windows(texts[0], options.max_length.value_or(8), stride)) {
      (void)tokenizer.decode(window.ids);
    }
  });
  return 0;
}
