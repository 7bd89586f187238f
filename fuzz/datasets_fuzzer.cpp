// A labelled data file: the first byte chooses the reader (CSV, TSV, JSON lines, PhraseBank, by extension)
// and the header and column options; the rest is the file.
#include "fuzz_support.h"
#include "graft/data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char* formats[] = {"csv", "tsv", "jsonl", "phrasebank", "auto"};
  const char* extensions[] = {".csv", ".tsv", ".jsonl", ".txt", ".txt"};
  const size_t format = data[0] % 5;
  graft::ReadOptions read;
  read.format = formats[format];
  if ((data[0] & 8) != 0) read.header = (data[0] & 16) != 0;
  if ((data[0] & 32) != 0) read.label_column = "0";
  if ((data[0] & 64) != 0) read.text_pair_column = "text_pair";
  read.skip_bad_rows = (data[0] & 128) != 0;
  read.max_line_bytes = 1 << 16;
  const std::string path = graft::fuzz::write_scratch(std::string("data") + extensions[format],
                                                      {reinterpret_cast<const char*>(data + 1), size - 1});
  graft::fuzz::expect_graft_errors_only([&] {
    const graft::TextDataset dataset = graft::read_dataset(path, read);
    (void)graft::LabelMap::from_labels(dataset.labels());
  });
  graft::fuzz::expect_graft_errors_only([&] { (void)graft::read_corpus_paragraphs(path, 1 << 16); });
  return 0;
}
