// Tokenizer throughput: tokens per second (items_per_second) encoding the paragraphs of
// shared/data/corpus/sotu.txt with the bert-base-uncased vocabulary of shared/golden/tokenizer.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "graft/tokenizer/tokenizer.h"

namespace {

const std::string kShared = GRAFT_SHARED_DIR;

std::vector<std::string> paragraphs() {
  std::ifstream in(kShared + "/data/corpus/sotu.txt");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

bool have_inputs(benchmark::State& state) {
  if (std::filesystem::exists(kShared + "/data/corpus/sotu.txt") &&
      std::filesystem::exists(kShared + "/golden/tokenizer/vocab.txt"))
    return true;
  state.SkipWithError("needs shared/data/corpus/sotu.txt and shared/golden/tokenizer (clone graft next to shared/)");
  return false;
}

void BM_EncodeParagraphs(benchmark::State& state) {
  if (!have_inputs(state)) return;
  const auto tokenizer = graft::Tokenizer::from_pretrained(kShared + "/golden/tokenizer");
  const auto texts = paragraphs();
  int64_t tokens = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& text : texts) {
      const auto encoding = tokenizer.encode(text);
      tokens += static_cast<int64_t>(encoding.size());
      bytes += static_cast<int64_t>(text.size());
      benchmark::DoNotOptimize(encoding.ids.data());
    }
  }
  state.SetItemsProcessed(tokens);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_EncodeParagraphs)->Unit(benchmark::kMillisecond);

// The training-time shape: batches of 32 paragraphs truncated to 128 tokens and padded.
void BM_EncodeBatchTruncated(benchmark::State& state) {
  if (!have_inputs(state)) return;
  const auto tokenizer = graft::Tokenizer::from_pretrained(kShared + "/golden/tokenizer");
  const auto texts = paragraphs();
  graft::EncodeOptions options;
  options.max_length = 128;
  options.truncation = graft::Truncation::LongestFirst;
  options.padding = graft::Padding::Longest;
  int64_t tokens = 0;
  for (auto _ : state) {
    for (size_t begin = 0; begin < texts.size(); begin += 32) {
      const std::vector<std::string> batch(texts.begin() + static_cast<std::ptrdiff_t>(begin),
                                           texts.begin() + static_cast<std::ptrdiff_t>(std::min(begin + 32, texts.size())));
      const auto encodings = tokenizer.encode_batch(batch, options);
      for (const auto& encoding : encodings) tokens += static_cast<int64_t>(encoding.size());
      benchmark::DoNotOptimize(encodings.data());
    }
  }
  state.SetItemsProcessed(tokens);
}
BENCHMARK(BM_EncodeBatchTruncated)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
