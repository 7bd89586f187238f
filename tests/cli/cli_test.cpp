// The inference commands end to end: golden parity through `graft predict` and `graft forward`, output
// formats, input sources, `graft init`, and one-line errors with exit code 1.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "graft/data/dataset.h"
#include "graft/io/safetensors.h"
#include "test_support.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

std::string tiny_distilbert() {
  return test::fixtures_dir() + "/tiny-distilbert";
}
std::string tiny_bert() {
  return test::fixtures_dir() + "/tiny-bert";
}

// Offline, so that a bad --model can never reach the network.
test::CommandResult graft_cli(const std::string& arguments) {
  return test::run_command("HF_HUB_OFFLINE=1 " + test::cli_path() + " " + arguments);
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> lines_of(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<nlohmann::json> json_lines(const std::string& output) {
  std::vector<nlohmann::json> objects;
  for (const auto& line : lines_of(output)) objects.push_back(nlohmann::json::parse(line));
  return objects;
}

class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() /
              ("graft-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TEST(PredictCli, GoldenScoresAreSoftmaxOfTransformersLogits) {
  GRAFT_REQUIRE_GOLDEN();
  ReadOptions read;
  read.text_column = "sentence";
  const auto dataset = read_dataset(test::shared_dir() + "/data/financial_phrasebank/train.csv", read);
  std::string arguments;
  for (size_t i = 0; i < 4; ++i) arguments += " " + quoted(dataset.examples[i].text);
  const auto result = graft_cli("predict --model " + test::golden_dir() +
                                "/distilbert_seqcls/checkpoint --top-k 3 --json" + test::device_option() + arguments);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto objects = json_lines(result.output);
  ASSERT_EQ(objects.size(), 4U);
  const auto logits = SafetensorsFile::open(test::golden_dir() + "/distilbert_seqcls/forward_backward.safetensors")
                          .load("logits")
                          .to_float_vector();
  const std::vector<std::string> names = {"negative", "neutral", "positive"};
  for (size_t row = 0; row < 4; ++row) {
    EXPECT_EQ(objects[row]["text"], dataset.examples[row].text);
    double sum = 0.0;
    for (size_t c = 0; c < 3; ++c) sum += std::exp(logits[row * 3 + c]);
    const auto& labels = objects[row]["labels"];
    ASSERT_EQ(labels.size(), 3U);
    for (size_t k = 0; k < 3; ++k) {
      const auto c = static_cast<size_t>(std::find(names.begin(), names.end(), labels[k]["label"]) - names.begin());
      ASSERT_LT(c, 3U);
      EXPECT_NEAR(labels[k]["score"].get<double>(), std::exp(logits[row * 3 + c]) / sum, 1e-4);
      if (k > 0) {
        EXPECT_GE(labels[k - 1]["score"].get<double>(), labels[k]["score"].get<double>());
      }
    }
  }
}

// .rows gradients hold only the rows of used_token_ids.
Tensor golden_view_of(const Tensor& gradient, const SafetensorsFile& golden, const std::string& key) {
  if (key.size() < 5 || key.substr(key.size() - 5) != ".rows") return gradient;
  const auto rows = golden.load("used_token_ids", DType::I64).to_int_vector();
  const int64_t width = gradient.dim(1);
  std::vector<float> values;
  const auto all = gradient.to_float_vector();
  for (const int64_t row : rows)
    values.insert(values.end(), all.begin() + row * width, all.begin() + (row + 1) * width);
  return Tensor::from_vector(values, {static_cast<int64_t>(rows.size()), width});
}

TEST(ForwardCli, ReproducesTransformersOutputsAndGradients) {
  GRAFT_REQUIRE_GOLDEN();
  for (const std::string name : {"distilbert_seqcls", "bert_seqcls", "distilbert_tokcls"}) {
    const std::string folder = test::golden_dir() + "/" + name;
    const auto golden = SafetensorsFile::open(folder + "/forward_backward.safetensors");
    TempDir temp;
    std::vector<std::pair<std::string, Tensor>> inputs;
    for (const std::string input : {"input_ids", "attention_mask", "token_type_ids", "labels"}) {
      if (golden.contains(input)) inputs.emplace_back(input, golden.load(input, DType::I64));
    }
    save_safetensors(temp / "in.safetensors", inputs);
    const auto result = graft_cli("forward --backward --model " + folder + "/checkpoint --inputs " +
                                  (temp / "in.safetensors") + " --out " + (temp / "out.safetensors"));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto out = SafetensorsFile::open(temp / "out.safetensors");
    int gradients = 0;
    for (const auto& key : golden.names()) {
      if (key.rfind("grad.", 0) == 0) {
        const bool rows = key.substr(key.size() - 5) == ".rows";
        const std::string parameter = key.substr(0, key.size() - (rows ? 5 : 0));
        ASSERT_TRUE(out.contains(parameter)) << name << ": no " << parameter;
        const Tensor expected = golden.load(key);
        const Tensor actual = golden_view_of(out.load(parameter), golden, key);
        ASSERT_EQ(actual.shape(), expected.shape()) << key;
        // Relative to the tensor's largest value; gradients that are zero in exact arithmetic (the key bias,
        // which softmax cancels) are rounding noise in both, so the scale has a floor.
        const double scale = std::max(test::max_abs(expected), 1e-6);
        EXPECT_LE(test::max_abs_diff(actual, expected), 1e-3 * scale) << name << " " << key;
        ++gradients;
      } else if (key.rfind("hidden_states.", 0) == 0 || key.rfind("attentions.", 0) == 0 || key == "logits" ||
                 key == "loss") {
        ASSERT_TRUE(out.contains(key)) << name << ": no " << key;
        EXPECT_TENSOR_NEAR(out.load(key), golden.load(key), 1e-4);
      }
    }
    EXPECT_GT(gradients, 10) << name;
  }
}

TEST(PredictCli, HumanOutputAndInputSources) {
  const auto args = graft_cli("predict --model " + tiny_distilbert() + " 'the quick brown fox' 'hello world'");
  ASSERT_EQ(args.exit_code, 0) << args.output;
  const auto lines = lines_of(args.output);
  ASSERT_EQ(lines.size(), 2U);
  for (const auto& line : lines) {
    const auto tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    EXPECT_TRUE(line.substr(0, tab) == "negative" || line.substr(0, tab) == "neutral" ||
                line.substr(0, tab) == "positive");
    EXPECT_EQ(line.size() - tab - 1, 6U) << "score with 4 decimals: " << line;
  }
  TempDir temp;
  std::ofstream(temp / "texts.txt") << "the quick brown fox\n\nhello world\n";
  const auto file = graft_cli("predict --model " + tiny_distilbert() + " --file " + (temp / "texts.txt"));
  EXPECT_EQ(file.output, args.output);
  const auto stdin_lines = test::run_command("printf 'the quick brown fox\\nhello world\\n' | " + test::cli_path() +
                                             " predict --model " + tiny_distilbert() + " --batch-size 1");
  EXPECT_EQ(stdin_lines.output, args.output);
  // --bf16 reaches the pipeline: the same labels in the same format, scores moved by bf16 rounding.
  const std::string json = "predict --json --top-k all --model " + tiny_distilbert() + " 'the quick brown fox'";
  const auto fp32_json = graft_cli(json);
  const auto bf16_json = graft_cli(json + " --bf16");
  ASSERT_EQ(bf16_json.exit_code, 0) << bf16_json.output;
  EXPECT_NE(bf16_json.output, fp32_json.output);
  EXPECT_EQ(nlohmann::json::parse(bf16_json.output)["labels"].size(), 3U);

  const auto top =
      graft_cli("predict --model " + tiny_distilbert() + " --top-k all 'the quick brown fox' 'hello world'");
  ASSERT_EQ(top.exit_code, 0) << top.output;
  const auto top_lines = lines_of(top.output);
  ASSERT_EQ(top_lines.size(), 7U);  // two blocks of three, separated by a blank line
  EXPECT_EQ(top_lines[3], "");
  EXPECT_EQ(top_lines[0], lines[0]);
}

// `graft quantize` writes a folder that loads as int8, giving what --int8 gives at load; both differ from fp32.
TEST(QuantizeCli, TheSavedInt8ModelPredictsAsInt8AtLoad) {
  TempDir temp;
  const auto quantized = graft_cli("quantize --model " + tiny_distilbert() + " --output " + (temp / "int8"));
  ASSERT_EQ(quantized.exit_code, 0) << quantized.output;
  EXPECT_EQ(quantized.output, (temp / "int8") + "\n");
  std::ifstream config(temp / "int8/config.json");
  EXPECT_EQ(nlohmann::json::parse(config)["quantization_config"]["quant_method"], "compressed-tensors");
  const std::string predict = "predict --json --top-k all 'the quick brown fox' 'hello world' --model ";
  const auto at_load = graft_cli(predict + tiny_distilbert() + " --int8");
  ASSERT_EQ(at_load.exit_code, 0) << at_load.output;
  const auto saved = graft_cli(predict + (temp / "int8"));
  ASSERT_EQ(saved.exit_code, 0) << saved.output;
  EXPECT_EQ(saved.output, at_load.output);
  EXPECT_NE(graft_cli(predict + tiny_distilbert()).output, at_load.output);
}

TEST(PredictCli, StrideAndPairGiveOneResultPerText) {
  const std::string long_text =
      "'the quick brown fox jump over the lazy dog and the dog was playing with his fox when we said hello'";
  const auto windows = graft_cli("predict --json --stride 4 --model " + tiny_distilbert() + " " + long_text + " fox");
  ASSERT_EQ(windows.exit_code, 0) << windows.output;
  EXPECT_EQ(json_lines(windows.output).size(), 2U);
  const auto pair = graft_cli("predict --json --pair 'hello world' --model " + tiny_distilbert() + " fox dog");
  ASSERT_EQ(pair.exit_code, 0) << pair.output;
  const auto objects = json_lines(pair.output);
  ASSERT_EQ(objects.size(), 2U);
  EXPECT_EQ(objects[1]["pair"], "hello world");
}

TEST(InitCli, WritesModelsTheOtherCommandsLoad) {
  TempDir temp;
  std::ofstream(temp / "config.json") << R"({"model_type": "distilbert", "vocab_size": 97, "dim": 8, "n_layers": 1,
      "n_heads": 2, "hidden_dim": 16, "max_position_embeddings": 32})";
  const auto init = graft_cli("init --config " + (temp / "config.json") + " --tokenizer " + tiny_distilbert() +
                              " --task masked-lm --seed 3 --output " + (temp / "mlm"));
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_TRUE(fs::exists(temp / "mlm/model.safetensors"));
  EXPECT_TRUE(fs::exists(temp / "mlm/vocab.txt"));
  const auto fill = graft_cli("fill-mask --json --top-k 3 --model " + (temp / "mlm") + " 'the [MASK] fox'");
  ASSERT_EQ(fill.exit_code, 0) << fill.output;
  const auto objects = json_lines(fill.output);
  ASSERT_EQ(objects.size(), 1U);
  ASSERT_EQ(objects[0]["masks"].size(), 1U);
  const auto& fills = objects[0]["masks"][0];
  ASSERT_EQ(fills.size(), 3U);
  double total = 0.0;
  for (const auto& candidate : fills) total += candidate["score"].get<double>();
  EXPECT_LE(total, 1.0 + 1e-6);
  EXPECT_GE(fills[0]["score"].get<double>(), fills[2]["score"].get<double>());
  // The same seed gives the same weights.
  const auto again = graft_cli("init --config " + (temp / "config.json") + " --tokenizer " + tiny_distilbert() +
                               " --task masked-lm --seed 3 --output " + (temp / "mlm2"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(graft_cli("fill-mask --json --top-k 3 --model " + (temp / "mlm2") + " 'the [MASK] fox'").output,
            fill.output);
}

TEST(TagCli, GroupedEntitiesSpanTheirPieces) {
  const std::string text = "'hello world, the quick brown fox'";
  const auto pieces = graft_cli("tag --json --model " + tiny_bert() + " " + text);
  const auto grouped = graft_cli("tag --json --grouped --model " + tiny_bert() + " " + text);
  ASSERT_EQ(pieces.exit_code, 0) << pieces.output;
  ASSERT_EQ(grouped.exit_code, 0) << grouped.output;
  const auto entities = json_lines(pieces.output)[0]["entities"];
  const auto groups = json_lines(grouped.output)[0]["entities"];
  ASSERT_FALSE(groups.empty());
  ASSERT_LT(groups.size(), entities.size()) << "the fixture merges B-PER/I-PER pieces";
  for (const auto& group : groups) {
    EXPECT_EQ(group["entity_group"], "PER");
    const auto start = group["start"].get<int64_t>();
    const auto end = group["end"].get<int64_t>();
    EXPECT_EQ(group["word"], std::string("hello world, the quick brown fox").substr(start, end - start));
  }
  const auto human = graft_cli("tag --grouped --model " + tiny_bert() + " " + text);
  EXPECT_EQ(lines_of(human.output).size(), groups.size());
}

TEST(EmbedCli, ClsAndMeanVectorsHaveTheHiddenSize) {
  const auto cls = graft_cli("embed --json --model " + tiny_bert() + " 'hello world' fox");
  const auto mean = graft_cli("embed --json --pooling mean --model " + tiny_bert() + " 'hello world' fox");
  ASSERT_EQ(cls.exit_code, 0) << cls.output;
  ASSERT_EQ(mean.exit_code, 0) << mean.output;
  const auto cls_objects = json_lines(cls.output);
  const auto mean_objects = json_lines(mean.output);
  ASSERT_EQ(cls_objects.size(), 2U);
  EXPECT_EQ(cls_objects[0]["embedding"].size(), 16U);
  EXPECT_EQ(mean_objects[0]["embedding"].size(), 16U);
  EXPECT_NE(cls_objects[0]["embedding"], mean_objects[0]["embedding"]);
  const auto human = graft_cli("embed --model " + tiny_bert() + " 'hello world'");
  EXPECT_EQ(lines_of(human.output).size(), 1U);
}

void expect_one_line_error(const std::string& arguments, const std::string& message) {
  const auto result = graft_cli(arguments);
  EXPECT_EQ(result.exit_code, 1) << arguments << "\n" << result.output;
  EXPECT_EQ(lines_of(result.output).size(), 1U) << result.output;
  EXPECT_NE(result.output.find(message), std::string::npos) << result.output;
}

TEST(InferenceCli, ErrorsAreOneLineWithExitCodeOne) {
  expect_one_line_error("predict --model /nonexistent/model hello",
                        "graft: [hub] '/nonexistent/model' is neither a local folder nor a Hub repo id");
  expect_one_line_error("embed --model " + test::fixtures_dir() + " hello", "config.json");
  expect_one_line_error("predict --model " + tiny_distilbert() + " --file /dev/null",
                        "graft: [input] no input texts (give them as arguments, with --file, or on stdin)");
  // Read until memory ran out before.
  expect_one_line_error("predict --model " + tiny_distilbert() + " --file /dev/zero",
                        "graft: [input] /dev/zero:1: a line longer than 16777216 bytes (is this a text file?)");
  expect_one_line_error("tokenize --model " + tiny_distilbert() + " < /dev/zero",
                        "graft: [input] standard input:1: a line longer than 16777216 bytes (is this a text file?)");
  expect_one_line_error("predict --model " + tiny_distilbert() + " --top-k many fox",
                        "graft: [predict] --top-k must be a count or 'all', got 'many'");
  expect_one_line_error("tag --model " + tiny_distilbert() + " fox",
                        "graft: [token-classification] the model's architecture (DistilBertForSequenceClassification)");
  expect_one_line_error("forward --model " + tiny_distilbert() + " --inputs /nonexistent.safetensors --out /tmp/x",
                        "/nonexistent.safetensors");
  TempDir temp;
  const auto init = graft_cli("init --config " + tiny_distilbert() + "/config.json --tokenizer " + tiny_distilbert() +
                              " --task masked-lm --output " + (temp / "mlm"));
  ASSERT_EQ(init.exit_code, 0) << init.output;
  expect_one_line_error("fill-mask --model " + (temp / "mlm") + " 'the [MASK] fox' 'no mask here'",
                        "graft: [fill-mask] text 2 has no [MASK] token");
}

}  // namespace
}  // namespace graft
