// from_pretrained / save_pretrained: tokenizer.json (the tokenizers format) when present, else
// vocab.txt + tokenizer_config.json (the transformers format); saving writes both.
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "graft/core/error.h"
#include "graft/core/json.h"
#include "graft/tokenizer/tokenizer_model.h"
#include "graft/tokenizer/utf8.h"

namespace graft {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using tokenizer::AddedToken;

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "tokenizer", path.string() + ": cannot open file");
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

json read_json(const fs::path& path) {
  return parse_json(read_file(path), "tokenizer", path.string());
}

// Reads a field with a clear message when it has the wrong type.
template <typename T>
T field(const json& object, const char* key, const T& fallback, const fs::path& file) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null()) return fallback;
  try {
    return object[key].get<T>();
  } catch (const json::exception&) {
    throw Error("[tokenizer] " + file.string() + ": field '" + key + "' has the wrong type");
  }
}

// A special token in tokenizer_config.json is a string or an AddedToken object {"content": ...}.
std::string token_name(const json& config, const char* key, const std::string& fallback, const fs::path& file) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return fallback;
  const json& value = config[key];
  if (value.is_string()) return value.get<std::string>();
  check(value.is_object() && value.contains("content") && value["content"].is_string(), "tokenizer",
        file.string() + ": field '" + key + "' is neither a string nor a token object");
  return value["content"].get<std::string>();
}

int64_t max_length_from(const json& config, const fs::path& file) {
  const double value = field<double>(config, "model_max_length", -1.0, file);
  // transformers writes int(1e30) for "no limit".
  return value < 0 || value > 1e15 ? kNoLimit : static_cast<int64_t>(value);
}

AddedToken added_token_from(const json& entry, int64_t id, const fs::path& file) {
  AddedToken token;
  token.content = field<std::string>(entry, "content", "", file);
  token.id = id;
  token.special = field<bool>(entry, "special", true, file);
  token.normalized = field<bool>(entry, "normalized", false, file);
  token.lstrip = field<bool>(entry, "lstrip", false, file);
  token.rstrip = field<bool>(entry, "rstrip", false, file);
  token.single_word = field<bool>(entry, "single_word", false, file);
  check(!token.content.empty(), "tokenizer", file.string() + ": an added token has no content");
  return token;
}

struct Loaded {
  tokenizer::NormalizerConfig normalizer;
  std::vector<std::string> vocab;
  tokenizer::WordPieceConfig wordpiece;
  std::vector<AddedToken> added;
  SpecialTokenNames names;
  int64_t max_length = kNoLimit;
  bool decoder_cleanup = true;
};

// transformers lets tokenizer_config.json override the normalizer of tokenizer.json.
void apply_config(const json& config, const fs::path& file, Loaded& loaded) {
  loaded.normalizer.lowercase = field<bool>(config, "do_lower_case", loaded.normalizer.lowercase, file);
  loaded.normalizer.handle_chinese_chars =
      field<bool>(config, "tokenize_chinese_chars", loaded.normalizer.handle_chinese_chars, file);
  if (config.is_object() && config.contains("strip_accents"))
    loaded.normalizer.strip_accents = config["strip_accents"].is_null()
                                          ? std::nullopt
                                          : std::optional<bool>(field<bool>(config, "strip_accents", false, file));
  loaded.names.unk = token_name(config, "unk_token", loaded.names.unk, file);
  loaded.names.sep = token_name(config, "sep_token", loaded.names.sep, file);
  loaded.names.pad = token_name(config, "pad_token", loaded.names.pad, file);
  loaded.names.cls = token_name(config, "cls_token", loaded.names.cls, file);
  loaded.names.mask = token_name(config, "mask_token", loaded.names.mask, file);
  if (const int64_t max_length = max_length_from(config, file); max_length != kNoLimit) loaded.max_length = max_length;
}

void read_normalizer(const json& normalizer, const fs::path& file, Loaded& loaded) {
  if (normalizer.is_null()) {
    loaded.normalizer = {false, false, false, false};
    return;
  }
  const auto type = field<std::string>(normalizer, "type", "", file);
  check(type == "BertNormalizer", "tokenizer",
        file.string() + ": unsupported normalizer '" + type + "' (graft supports BertNormalizer)");
  loaded.normalizer.clean_text = field<bool>(normalizer, "clean_text", true, file);
  loaded.normalizer.handle_chinese_chars = field<bool>(normalizer, "handle_chinese_chars", true, file);
  loaded.normalizer.lowercase = field<bool>(normalizer, "lowercase", true, file);
  if (normalizer.contains("strip_accents") && !normalizer["strip_accents"].is_null())
    loaded.normalizer.strip_accents = field<bool>(normalizer, "strip_accents", false, file);
}

// BertProcessing {"cls": [token, id], "sep": [...]} or the equivalent TemplateProcessing.
void read_post_processor(const json& processor, const fs::path& file, Loaded& loaded) {
  check(processor.is_object(), "tokenizer",
        file.string() + ": post_processor must be an object, got " + processor.dump());
  const auto type = field<std::string>(processor, "type", "", file);
  if (type == "BertProcessing") {
    for (const char* key : {"cls", "sep"}) {
      const json& pair = processor.contains(key) ? processor[key] : json();
      check(pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_number_integer(), "tokenizer",
            file.string() + ": BertProcessing needs " + key + " as [token, id], got " + pair.dump());
    }
    loaded.names.cls = processor["cls"][0].get<std::string>();
    loaded.names.sep = processor["sep"][0].get<std::string>();
    return;
  }
  check(type == "TemplateProcessing", "tokenizer",
        file.string() + ": unsupported post_processor '" + type + "' (graft supports BertProcessing)");
  const json& single = processor.contains("single") ? processor["single"] : json();
  check(single.is_array(), "tokenizer",
        file.string() + ": TemplateProcessing needs \"single\" as a list of pieces, got " + single.dump());
  std::vector<std::string> specials;
  for (const auto& piece : single) {
    if (!piece.is_object() || !piece.contains("SpecialToken")) continue;
    specials.push_back(field<std::string>(piece["SpecialToken"], "id", "", file));
  }
  check(specials.size() == 2, "tokenizer",
        file.string() + ": TemplateProcessing is only supported in the BERT form [CLS] $A [SEP]");
  loaded.names.cls = specials[0];
  loaded.names.sep = specials[1];
}

// A vocab.txt with a repeated line keeps the token at its last id (as transformers' load_vocab), so its
// tokenizer.json, ours or transformers', has no token at the earlier id: such gaps are read as empty tokens,
// which no word matches. Gaps of more than 2^20 ids would only be a corrupt file asking for memory.
std::vector<std::string> vocab_from_object(const json& vocab, const fs::path& file) {
  check(vocab.is_object() && !vocab.empty(), "tokenizer", file.string() + ": model.vocab is missing or empty");
  const auto largest_id = static_cast<int64_t>(vocab.size()) + (int64_t{1} << 20);
  std::vector<std::string> tokens;
  std::vector<bool> seen;
  for (const auto& [token, id_json] : vocab.items()) {
    const auto id = id_json.is_number_integer() ? id_json.get<int64_t>() : -1;
    check(id >= 0 && id < largest_id, "tokenizer",
          file.string() + ": model.vocab id of '" + token + "' must be an integer in 0.." +
              std::to_string(largest_id - 1) + ", got " + id_json.dump());
    if (id >= static_cast<int64_t>(tokens.size())) {
      tokens.resize(static_cast<size_t>(id) + 1);
      seen.resize(static_cast<size_t>(id) + 1, false);
    }
    check(!seen[static_cast<size_t>(id)], "tokenizer",
          file.string() + ": model.vocab gives id " + std::to_string(id) + " to two tokens ('" +
              tokens[static_cast<size_t>(id)] + "' and '" + token + "')");
    tokens[static_cast<size_t>(id)] = token;
    seen[static_cast<size_t>(id)] = true;
  }
  return tokens;
}

void read_tokenizer_json(const fs::path& file, Loaded& loaded) {
  const json root = read_json(file);
  check(root.is_object(), "tokenizer", file.string() + ": expected a JSON object");
  read_normalizer(root.value("normalizer", json()), file, loaded);
  const auto pre_tokenizer = field<std::string>(root.value("pre_tokenizer", json::object()), "type", "", file);
  check(pre_tokenizer == "BertPreTokenizer", "tokenizer",
        file.string() + ": unsupported pre_tokenizer '" + pre_tokenizer + "' (graft supports BertPreTokenizer)");
  const json model = root.value("model", json::object());
  const auto model_type = field<std::string>(model, "type", "", file);
  check(model_type == "WordPiece", "tokenizer",
        file.string() + ": unsupported model '" + model_type + "' (graft supports WordPiece)");
  loaded.vocab = vocab_from_object(model.value("vocab", json()), file);
  loaded.wordpiece.unk_token = field<std::string>(model, "unk_token", "[UNK]", file);
  loaded.wordpiece.continuing_subword_prefix = field<std::string>(model, "continuing_subword_prefix", "##", file);
  loaded.wordpiece.max_input_chars_per_word = field<int64_t>(model, "max_input_chars_per_word", 100, file);
  loaded.names.unk = loaded.wordpiece.unk_token;
  read_post_processor(root.value("post_processor", json::object()), file, loaded);
  loaded.decoder_cleanup = field<bool>(root.value("decoder", json::object()), "cleanup", true, file);
  for (const auto& entry : root.value("added_tokens", json::array()))
    loaded.added.push_back(added_token_from(entry, field<int64_t>(entry, "id", -1, file), file));
  loaded.max_length = field<int64_t>(root.value("truncation", json::object()), "max_length", kNoLimit, file);
  loaded.names.pad = field<std::string>(root.value("padding", json::object()), "pad_token", loaded.names.pad, file);
}

std::vector<std::string> read_vocab_txt(const fs::path& file) {
  std::istringstream lines(read_file(file));
  std::vector<std::string> tokens;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Refused here, not when the vocabulary is saved after a training run.
    const size_t valid = tokenizer::valid_utf8_prefix(line);
    check(valid == line.size(), "tokenizer",
          file.string() + ": line " + std::to_string(tokens.size() + 1) + " is not valid UTF-8 (at byte " +
              std::to_string(valid) + ")");
    tokens.push_back(line);
  }
  check(!tokens.empty(), "tokenizer", file.string() + ": the vocabulary is empty");
  return tokens;
}

// As transformers: the special tokens are added tokens, matched whole in the raw text; a newer
// tokenizer_config.json lists them (and any others) under added_tokens_decoder.
std::vector<AddedToken> added_tokens_from_config(const json& config, const Loaded& loaded, const fs::path& file) {
  std::vector<AddedToken> added;
  if (config.is_object() && config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
    for (const auto& [id, entry] : config["added_tokens_decoder"].items()) {
      try {
        added.push_back(added_token_from(entry, std::stoll(id), file));
      } catch (const std::logic_error&) {
        throw Error("[tokenizer] " + file.string() + ": added_tokens_decoder key '" + id + "' is not an id");
      }
    }
    return added;
  }
  for (const auto* name :
       {&loaded.names.pad, &loaded.names.unk, &loaded.names.cls, &loaded.names.sep, &loaded.names.mask}) {
    // The last line holding the token, as the vocabulary maps a repeated token (transformers' load_vocab).
    int64_t id = -1;
    for (size_t i = 0; i < loaded.vocab.size(); ++i)
      if (loaded.vocab[i] == *name) id = static_cast<int64_t>(i);
    check(id >= 0, "tokenizer", file.parent_path().string() + "/vocab.txt: special token '" + *name + "' is missing");
    added.push_back(AddedToken{*name, id});
  }
  return added;
}

// A field of an unexpected JSON type that no check above names still names its file.
template <typename Read>
void reading(const fs::path& file, Read&& read) {
  try {
    read();
  } catch (const json::exception& error) {
    throw Error("[tokenizer] " + file.string() + ": unexpected JSON structure (" + error.what() + ")");
  }
}

}  // namespace

std::shared_ptr<const TokenizerModel> load_tokenizer_model(const std::string& dir) {
  const fs::path root(dir);
  check(fs::is_directory(root), "tokenizer", dir + ": not a directory");
  const fs::path config_file = root / "tokenizer_config.json";
  const json config = fs::exists(config_file) ? read_json(config_file) : json::object();
  Loaded loaded;
  bool clean_up_spaces = false;
  if (fs::exists(root / "tokenizer.json")) {
    reading(root / "tokenizer.json", [&] { read_tokenizer_json(root / "tokenizer.json", loaded); });
    reading(config_file, [&] { apply_config(config, config_file, loaded); });
  } else {
    check(fs::exists(root / "vocab.txt"), "tokenizer", dir + ": neither tokenizer.json nor vocab.txt found");
    loaded.vocab = read_vocab_txt(root / "vocab.txt");
    reading(config_file, [&] {
      apply_config(config, config_file, loaded);
      loaded.wordpiece.unk_token = loaded.names.unk;
      loaded.added = added_tokens_from_config(config, loaded, config_file);
    });
  }
  clean_up_spaces = field<bool>(config, "clean_up_tokenization_spaces", false, config_file);
  auto model = std::make_shared<TokenizerModel>(loaded.normalizer, std::move(loaded.vocab), loaded.wordpiece,
                                                std::move(loaded.added), loaded.names, loaded.max_length);
  model->decoder_cleanup = loaded.decoder_cleanup;
  model->clean_up_tokenization_spaces = clean_up_spaces;
  return model;
}

namespace {

using ordered_json = nlohmann::ordered_json;

void write_file(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  check(out.good(), "tokenizer", path.string() + ": cannot write file");
  out << contents;
  check(out.good(), "tokenizer", path.string() + ": write failed");
}

ordered_json added_token_json(const AddedToken& token, bool with_id) {
  ordered_json entry;
  if (with_id) entry["id"] = token.id;
  entry["content"] = token.content;
  entry["single_word"] = token.single_word;
  entry["lstrip"] = token.lstrip;
  entry["rstrip"] = token.rstrip;
  entry["normalized"] = token.normalized;
  entry["special"] = token.special;
  return entry;
}

ordered_json strip_accents_json(const tokenizer::NormalizerConfig& normalizer) {
  return normalizer.strip_accents ? ordered_json(*normalizer.strip_accents) : ordered_json(nullptr);
}

ordered_json tokenizer_json(const TokenizerModel& model) {
  const auto& wordpiece = model.wordpiece;
  ordered_json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = ordered_json::array();
  for (const auto& token : model.added_tokens) root["added_tokens"].push_back(added_token_json(token, true));
  root["normalizer"] = {{"type", "BertNormalizer"},
                        {"clean_text", model.normalizer.clean_text},
                        {"handle_chinese_chars", model.normalizer.handle_chinese_chars},
                        {"strip_accents", strip_accents_json(model.normalizer)},
                        {"lowercase", model.normalizer.lowercase}};
  root["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  root["post_processor"] = {{"type", "BertProcessing"},
                            {"sep", {wordpiece.id_to_token(model.sep_id), model.sep_id}},
                            {"cls", {wordpiece.id_to_token(model.cls_id), model.cls_id}}};
  root["decoder"] = {{"type", "WordPiece"},
                     {"prefix", wordpiece.config().continuing_subword_prefix},
                     {"cleanup", model.decoder_cleanup}};
  ordered_json vocab = ordered_json::object();
  for (int64_t id = 0; id < wordpiece.size(); ++id) vocab[wordpiece.id_to_token(id)] = id;
  root["model"] = {{"type", "WordPiece"},
                   {"unk_token", wordpiece.config().unk_token},
                   {"continuing_subword_prefix", wordpiece.config().continuing_subword_prefix},
                   {"max_input_chars_per_word", wordpiece.config().max_input_chars_per_word},
                   {"vocab", vocab}};
  return root;
}

ordered_json special_tokens_map(const TokenizerModel& model) {
  const auto& names = model.special_names;
  return {{"cls_token", names.cls},
          {"mask_token", names.mask},
          {"pad_token", names.pad},
          {"sep_token", names.sep},
          {"unk_token", names.unk}};
}

ordered_json tokenizer_config(const TokenizerModel& model) {
  ordered_json config;
  ordered_json decoder = ordered_json::object();
  for (const auto& token : model.added_tokens) decoder[std::to_string(token.id)] = added_token_json(token, false);
  config["added_tokens_decoder"] = decoder;
  config["clean_up_tokenization_spaces"] = model.clean_up_tokenization_spaces;
  config["do_lower_case"] = model.normalizer.lowercase;
  config["strip_accents"] = strip_accents_json(model.normalizer);
  config["tokenize_chinese_chars"] = model.normalizer.handle_chinese_chars;
  if (model.model_max_length != kNoLimit) config["model_max_length"] = model.model_max_length;
  config["tokenizer_class"] = "BertTokenizer";
  config.update(special_tokens_map(model));
  return config;
}

}  // namespace

void save_tokenizer_model(const TokenizerModel& model, const std::string& dir) {
  const fs::path root(dir);
  std::error_code error;
  fs::create_directories(root, error);
  check(!error && fs::is_directory(root), "tokenizer", dir + ": cannot create directory");
  std::string vocab;
  for (const auto& token : model.wordpiece.tokens()) vocab.append(token).push_back('\n');
  write_file(root / "vocab.txt", vocab);
  write_file(root / "tokenizer_config.json", tokenizer_config(model).dump(2) + "\n");
  write_file(root / "special_tokens_map.json", special_tokens_map(model).dump(2) + "\n");
  write_file(root / "tokenizer.json", tokenizer_json(model).dump(2) + "\n");
}

}  // namespace graft
