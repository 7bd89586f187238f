#pragma once
// Pieces shared by the dataset readers in src/data: whole-file reads, UTF-8 checks and the policy
// for bad rows (throw naming FILE:LINE, or count and go on).
#include <cstdint>
#include <string>
#include <string_view>

#include "graft/data/dataset.h"

namespace graft::data_detail {

// The whole file, without a leading UTF-8 byte-order mark.
// Refuses a line longer than max_line_bytes as soon as that much of it is read.
std::string read_whole_file(const std::string& path, int64_t max_line_bytes);

bool is_valid_utf8(std::string_view text);
std::string latin1_to_utf8(std::string_view text);
std::string_view trim(std::string_view text);

// Decides what happens to a bad row: a graft::Error "[dataset] FILE:LINE: why", or, with
// skip_bad_rows, one more TextDataset::skipped_rows.
class BadRows {
 public:
  BadRows(TextDataset& dataset, bool skip) : dataset_(dataset), skip_(skip) {}
  void report(int64_t line, const std::string& why);

 private:
  TextDataset& dataset_;
  bool skip_;
};

// Throws "[dataset] FILE: no examples" (mentioning skipped rows) when nothing was read.
void require_examples(const TextDataset& dataset);

TextDataset read_delimited(const std::string& path, std::string_view content, char delimiter,
                           const ReadOptions& options);
TextDataset read_jsonl(const std::string& path, std::string_view content, const ReadOptions& options);

}  // namespace graft::data_detail
