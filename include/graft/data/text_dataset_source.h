#pragma once
// The bridge from a labelled text file (CSV, TSV, JSON lines, PhraseBank) to the Trainer and evaluate():
// read, tokenize, map the labels to class ids, and batch.
#include <cstdint>
#include <memory>
#include <string>

#include "graft/data/batch_source.h"
#include "graft/data/dataset.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft {

struct TextClassificationData {
  std::unique_ptr<EncodedSource> source;
  TextDataset dataset;
  std::string summary;  // summarize(dataset): sizes and label distribution
};

// Tokenizes an already read dataset (e.g. one side of stratified_split). Texts (and text pairs, when the
// dataset has them) are truncated longest-first to max_length tokens; a label the LabelMap does not know
// is a graft::Error naming FILE:LINE.
TextClassificationData encode_text_classification(TextDataset dataset, const Tokenizer& tokenizer,
                                                  const LabelMap& labels, int64_t max_length, int64_t batch_size,
                                                  BatchOrder order, uint64_t seed, int64_t pad_to_multiple_of = 0);

// read_dataset, then encode_text_classification. Texts (and text pairs, when options.text_pair_column is set) are
// truncated longest-first to max_length tokens. A label the LabelMap does not know is a graft::Error naming FILE:LINE.
TextClassificationData load_text_classification(const std::string& path, const ReadOptions& options,
                                                const Tokenizer& tokenizer, const LabelMap& labels, int64_t max_length,
                                                int64_t batch_size, BatchOrder order, uint64_t seed,
                                                int64_t pad_to_multiple_of = 0);

}  // namespace graft
