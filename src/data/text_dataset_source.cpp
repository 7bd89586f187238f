#include "graft/data/text_dataset_source.h"

#include <algorithm>
#include <utility>

#include "graft/core/error.h"

namespace graft {
namespace {

std::vector<Encoding> tokenize(const TextDataset& dataset, const Tokenizer& tokenizer, int64_t max_length) {
  EncodeOptions options;
  options.max_length = max_length;
  options.truncation = Truncation::LongestFirst;
  std::vector<Encoding> encodings;
  encodings.reserve(dataset.examples.size());
  for (const auto& example : dataset.examples) {
    encodings.push_back(example.text_pair.empty() ? tokenizer.encode(example.text, options)
                                                  : tokenizer.encode_pair(example.text, example.text_pair, options));
  }
  return encodings;
}

std::vector<int64_t> class_ids(const TextDataset& dataset, const LabelMap& labels) {
  std::vector<int64_t> ids;
  ids.reserve(dataset.examples.size());
  for (const auto& example : dataset.examples) {
    ids.push_back(labels.id(example.label, dataset.path + ":" + std::to_string(example.line)));
  }
  return ids;
}

}  // namespace

TextClassificationData encode_text_classification(TextDataset dataset, const Tokenizer& tokenizer,
                                                  const LabelMap& labels, int64_t max_length, int64_t batch_size,
                                                  BatchOrder order, uint64_t seed, int64_t pad_to_multiple_of) {
  check(max_length > 1, "data", "max length must be at least 2 tokens, got " + std::to_string(max_length));
  check(!dataset.examples.empty(), "data", dataset.path + ": no examples");
  TextClassificationData data;
  data.dataset = std::move(dataset);
  data.summary = summarize(data.dataset);
  Labels targets;
  targets.classes = class_ids(data.dataset, labels);
  data.source = std::make_unique<EncodedSource>(tokenize(data.dataset, tokenizer, max_length), std::move(targets),
                                                batch_size, tokenizer.pad_id(), order, seed, pad_to_multiple_of);
  return data;
}

TextClassificationData load_text_classification(const std::string& path, const ReadOptions& options,
                                                const Tokenizer& tokenizer, const LabelMap& labels, int64_t max_length,
                                                int64_t batch_size, BatchOrder order, uint64_t seed,
                                                int64_t pad_to_multiple_of) {
  return encode_text_classification(read_dataset(path, options), tokenizer, labels, max_length, batch_size, order, seed,
                                    pad_to_multiple_of);
}

}  // namespace graft
