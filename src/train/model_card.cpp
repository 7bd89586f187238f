#include "graft/train/model_card.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include "graft/io/file.h"

namespace graft {
namespace {

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string trim_newlines(const std::string& text) {
  const auto first = text.find_first_not_of('\n');
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of('\n') - first + 1);
}

// YAML accepts JSON strings, so quoting through JSON escapes whatever a path or label holds.
std::string yaml_string(const std::string& text) {
  return nlohmann::json(text).dump();
}

// The Hub validates base_model as a repo id, so a local path is left out of the metadata.
bool looks_like_hub_id(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.front() == '.' || name.front() == '~') return false;
  return std::count(name.begin(), name.end(), '/') <= 1 && !std::filesystem::exists(name);
}

std::string hub_id_without_revision(const std::string& name) {
  return name.substr(0, name.find('@'));
}

// "distilbert-base-uncased" for a Hub id or a folder path alike.
std::string model_name(std::string base_model) {
  while (base_model.size() > 1 && base_model.back() == '/') base_model.pop_back();
  return std::filesystem::path(hub_id_without_revision(base_model)).filename().string();
}

std::string pipeline_tag(const std::string& task) {
  if (task == "token-classification") return "token-classification";
  if (task == "masked-lm") return "fill-mask";
  if (task == "question-answering") return "question-answering";
  if (task == "base") return "feature-extraction";
  return "text-classification";
}

bool is_classification_report(const nlohmann::json& report) {
  return report.is_object() && report.contains("accuracy") && report.contains("per_label") &&
         report.contains("confusion") && report.contains("labels");
}

int heading_level(const std::string& line) {
  const auto hashes = line.find_first_not_of('#');
  if (hashes == 0 || hashes > 6 || hashes == std::string::npos || line[hashes] != ' ') return 0;
  return static_cast<int>(hashes);
}

bool is_fence(const std::string& line) {
  const auto start = line.find_first_not_of(' ');
  return start != std::string::npos && (line.compare(start, 3, "```") == 0 || line.compare(start, 3, "~~~") == 0);
}

// A card's lines (without carriage returns), split into its YAML front matter (between the opening and
// closing "---") and the Markdown body; a card without front matter is all body.
struct CardLines {
  std::vector<std::string> front_matter, body;
};

CardLines card_lines(const std::string& markdown) {
  std::vector<std::string> lines;
  std::istringstream in(markdown);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  if (lines.empty() || lines.front() != "---") return {{}, lines};
  const auto end = std::find(lines.begin() + 1, lines.end(), "---");
  if (end == lines.end()) return {{}, lines};
  return {{lines.begin() + 1, end}, {end + 1, lines.end()}};
}

// The value of `key` in a card's YAML front matter ("license: apache-2.0" -> "apache-2.0"), empty when
// absent: the cards of the Hub keep their metadata there.
std::string front_matter_value(const std::string& card, const std::string& key) {
  for (const std::string& line : card_lines(card).front_matter) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::string value = line.substr(key.size() + 1);
    value.erase(0, value.find_first_not_of(" \"'"));
    value.erase(value.find_last_not_of(" \"'") + 1);
    return value;
  }
  return "";
}

// The card's first level-1 heading outside code: the name its authors gave the model.
std::string card_title(const std::string& card) {
  bool in_fence = false;
  for (const std::string& line : card_lines(card).body) {
    if (is_fence(line)) {
      in_fence = !in_fence;
    } else if (!in_fence && heading_level(line) == 1) {
      return line.substr(line.find_first_not_of("# "));
    }
  }
  return "";
}

std::string front_matter(const ModelCardInputs& inputs) {
  std::string yaml = "---\nlibrary_name: graft\n";
  if (looks_like_hub_id(inputs.base_model)) {
    yaml += "base_model: " + yaml_string(hub_id_without_revision(inputs.base_model)) + "\n";
  }
  // A fine-tuned model is a derivative of its base and keeps its license, as the Hub's cards do.
  const std::string license = front_matter_value(inputs.base_card, "license");
  if (!license.empty()) yaml += "license: " + yaml_string(license) + "\n";
  yaml += "pipeline_tag: " + pipeline_tag(inputs.task) + "\n";
  yaml += "tags:\n- graft\n- transfer-learning\n- " + pipeline_tag(inputs.task) + "\n";
  if (is_classification_report(inputs.eval_results)) yaml += "metrics:\n- accuracy\n- f1\n";
  return yaml + "---\n";
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "`" : ", `") + name + "`";
  return text;
}

std::string description_section(const ModelCardInputs& inputs) {
  std::string text = "## Model description\n\n";
  text += "This model is `" + inputs.base_model + "` fine-tuned with graft for " + inputs.task + ".";
  const std::string title = card_title(inputs.base_card);
  const std::string license = front_matter_value(inputs.base_card, "license");
  if (!title.empty() || !license.empty()) {
    text += " Its base is " + (title.empty() ? std::string("the model") : "\"" + title + "\"") + " (by its own card, " +
            (license.empty() ? std::string("which names no license") : "license " + license) + ").";
  }
  if (!inputs.labels.empty()) {
    text += " It predicts one of " + std::to_string(inputs.labels.size()) + " labels: " + joined(inputs.labels) + ".";
  }
  return text + "\n";
}

std::string data_block(const std::string& role, const std::string& file, const std::string& summary) {
  if (file.empty()) return "";
  std::string text = "- " + role + ": `" + file + "`\n";
  if (!summary.empty()) text += "\n```text\n" + trim_newlines(summary) + "\n```\n";
  return text + "\n";
}

std::string data_section(const ModelCardInputs& inputs) {
  std::string text = "## Training data\n\n";
  text += data_block("Training set", inputs.train_file, inputs.train_summary);
  text += data_block("Evaluation set", inputs.eval_file, inputs.eval_summary);
  return text;
}

std::string hyperparameter_value(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// The settings readers look for first, in this order; any others follow alphabetically.
const std::vector<std::string>& leading_hyperparameters() {
  static const std::vector<std::string> keys = {"num_train_epochs",
                                                "max_steps",
                                                "learning_rate",
                                                "batch_size",
                                                "train_batch_size",
                                                "eval_batch_size",
                                                "gradient_accumulation_steps",
                                                "optim",
                                                "lr_scheduler_type",
                                                "warmup_steps",
                                                "warmup_ratio",
                                                "weight_decay",
                                                "max_grad_norm",
                                                "layerwise_lr_decay",
                                                "gradual_unfreezing",
                                                "seed"};
  return keys;
}

// Where the run wrote its files says nothing about how the model was trained.
bool is_bookkeeping(const std::string& key) {
  return key == "output_dir" || key == "progress_bar" || key == "logging_steps" || key == "save_total_limit";
}

std::string hyperparameter_list(const StageSummary& stage) {
  std::string text = "- freeze: " + (stage.freeze.empty() ? std::string("none") : stage.freeze) + "\n";
  if (!stage.hyperparameters.is_object()) return text;
  std::set<std::string> shown;
  for (const auto& key : leading_hyperparameters()) {
    if (!stage.hyperparameters.contains(key)) continue;
    text += "- " + key + ": " + hyperparameter_value(stage.hyperparameters.at(key)) + "\n";
    shown.insert(key);
  }
  for (const auto& [key, value] : stage.hyperparameters.items()) {
    if (shown.count(key) == 0 && !is_bookkeeping(key)) text += "- " + key + ": " + hyperparameter_value(value) + "\n";
  }
  return text;
}

// "1200 optimizer steps in 80.0 s (...)"; a resumed run timed only its own steps, and says so.
std::string step_summary(const StageSummary& stage, const std::string& rate_unit) {
  const std::string rate = " (" + fixed(stage.samples_per_second, 1) + " " + rate_unit + ").\n\n";
  if (stage.first_step == 0) {
    return std::to_string(stage.steps) + " optimizer steps in " + fixed(stage.seconds, 1) + " s" + rate;
  }
  return std::to_string(stage.steps) + " optimizer steps; the last run resumed at step " +
         std::to_string(stage.first_step) + " and took " + fixed(stage.seconds, 1) + " s for steps " +
         std::to_string(stage.first_step + 1) + "-" + std::to_string(stage.steps) + rate;
}

std::string procedure_section(const ModelCardInputs& inputs) {
  std::string text = "## Training procedure\n\n";
  if (inputs.stages.size() > 1) {
    text += "Training ran in " + std::to_string(inputs.stages.size()) + " stages, each starting from the last.\n\n";
  }
  for (size_t i = 0; i < inputs.stages.size(); ++i) {
    const StageSummary& stage = inputs.stages[i];
    text += "### Stage " + std::to_string(i + 1) + ": " + stage.name + "\n\n" + hyperparameter_list(stage) + "\n";
    text += step_summary(stage, "samples/s");
  }
  return text;
}

std::string metric_rows(const nlohmann::json& report) {
  static const std::vector<std::pair<std::string, std::string>> metrics = {{"accuracy", "Accuracy"},
                                                                           {"macro_f1", "Macro F1"},
                                                                           {"macro_precision", "Macro precision"},
                                                                           {"macro_recall", "Macro recall"},
                                                                           {"loss", "Loss"}};
  std::string text = "| Metric | Value |\n|---|---|\n";
  for (const auto& [key, title] : metrics) {
    if (report.contains(key)) text += "| " + title + " | " + fixed(report.at(key).get<double>(), 4) + " |\n";
  }
  return text;
}

std::string per_class_rows(const nlohmann::json& report) {
  std::string text = "| Label | Precision | Recall | F1 | Support |\n|---|---|---|---|---|\n";
  for (const auto& name : report.at("labels")) {
    const auto& row = report.at("per_label").at(name.get<std::string>());
    text += "| " + name.get<std::string>() + " | " + fixed(row.at("precision").get<double>(), 4) + " | " +
            fixed(row.at("recall").get<double>(), 4) + " | " + fixed(row.at("f1").get<double>(), 4) + " | " +
            std::to_string(row.at("support").get<int64_t>()) + " |\n";
  }
  return text;
}

// Appended piece by piece: GCC 12 reports a false -Wrestrict for `" " + std::string(...)` here.
void append_cell(std::string& row, const std::string& cell) {
  row.append(" ").append(cell).append(" |");
}

std::string confusion_rows(const nlohmann::json& report) {
  const auto& names = report.at("labels");
  std::string text = "| true \\ predicted |";
  std::string rule = "|---|";
  for (const auto& name : names) {
    append_cell(text, name.get<std::string>());
    rule += "---|";
  }
  text.append("\n").append(rule).append("\n");
  for (size_t t = 0; t < names.size(); ++t) {
    text += "|";
    append_cell(text, names[t].get<std::string>());
    for (const auto& count : report.at("confusion").at(t)) append_cell(text, std::to_string(count.get<int64_t>()));
    text += "\n";
  }
  return text;
}

std::string evaluation_section(const ModelCardInputs& inputs) {
  std::string text = "## Evaluation results\n\n";
  const nlohmann::json& report = inputs.eval_results;
  if (is_classification_report(report)) {
    if (!inputs.eval_file.empty()) text += "On `" + inputs.eval_file + "`:\n\n";
    text += metric_rows(report) + "\n### Per class\n\n" + per_class_rows(report);
    text += "\n### Confusion matrix\n\nRows are the true labels, columns the predicted ones.\n\n" +
            confusion_rows(report) + "\n";
  } else if (!inputs.eval_table.empty()) {
    text += "```text\n" + trim_newlines(inputs.eval_table) + "\n```\n\n";
  } else {
    text += "The model was not evaluated on held-out data; measure it on data of your own before relying on it.\n\n";
  }
  return text;
}

std::string intended_uses_section() {
  return "## Intended uses\n\n"
         "Labelling texts that resemble the training data, in language, domain and length. Scores are the "
         "model's confidence, not calibrated probabilities; check a sample of its predictions on your own data "
         "before relying on them, and keep a person in the loop for decisions that affect people.\n\n";
}

std::string limitations_section(const ModelCardInputs& inputs) {
  std::string text =
      "## Limitations and bias\n\n"
      "The evaluation above comes from data drawn like the training data; on texts from other sources, "
      "periods or domains the model will do worse, by an amount nobody has measured. It learns whatever "
      "regularities its training labels hold, including annotators' disagreements and biases, and it "
      "inherits the biases of its base model's pretraining corpus. Texts longer than the maximum sequence "
      "length are truncated.\n\n";
  const std::string carried = extract_markdown_sections(inputs.base_card, {"bias", "limitation"}, 3);
  if (!carried.empty()) text += "The base model's card says:\n\n" + carried + "\n\n";
  return text;
}

std::string usage_section() {
  return "## How to use\n\n"
         "With graft, where DIR is the folder that holds this card:\n\n"
         "```bash\ngraft predict --model DIR \"The text to classify\"\n```\n\n"
         "The folder is a standard Hugging Face checkpoint (config.json, model.safetensors, tokenizer), so "
         "transformers' `AutoModelForSequenceClassification.from_pretrained(DIR)` loads it as well.\n";
}

bool mentions_any(const std::string& line, const std::vector<std::string>& keywords) {
  const std::string lower = lowercase(line);
  return std::any_of(keywords.begin(), keywords.end(),
                     [&](const std::string& keyword) { return lower.find(lowercase(keyword)) != std::string::npos; });
}

}  // namespace

std::string extract_markdown_sections(const std::string& markdown, const std::vector<std::string>& keywords,
                                      int heading_level_wanted) {
  std::string extracted;
  int section_level = 0;  // level of the heading being copied; 0: not copying
  bool in_fence = false;
  for (const std::string& line : card_lines(markdown).body) {
    if (is_fence(line)) in_fence = !in_fence;
    const int level = in_fence || is_fence(line) ? 0 : heading_level(line);
    if (level > 0 && section_level > 0 && level <= section_level) section_level = 0;
    if (level > 0 && section_level == 0 && mentions_any(line, keywords)) {
      section_level = level;
      if (!extracted.empty()) extracted += "\n";
    }
    if (section_level == 0) continue;
    if (level > 0) {
      const int relevelled = std::clamp(level - section_level + heading_level_wanted, 1, 6);
      extracted += std::string(static_cast<size_t>(relevelled), '#') + line.substr(static_cast<size_t>(level)) + "\n";
    } else {
      extracted += line + "\n";
    }
  }
  return trim_newlines(extracted);
}

std::string render_model_card(const ModelCardInputs& inputs) {
  std::string card = front_matter(inputs) + "\n";
  card += "# " + model_name(inputs.base_model) + " fine-tuned for " + inputs.task + "\n\n";
  card += description_section(inputs) + "\n";
  card += data_section(inputs);
  card += procedure_section(inputs);
  card += evaluation_section(inputs);
  card += intended_uses_section();
  card += limitations_section(inputs);
  card += usage_section();
  return card;
}

namespace {

std::string probe_rows(const std::vector<FillMaskProbe>& probes) {
  std::string text = "| Text | Top fills (probability) |\n|---|---|\n";
  for (const FillMaskProbe& probe : probes) {
    std::string fills;
    for (const auto& [token, score] : probe.fills)
      fills += (fills.empty() ? "" : ", ") + token + " (" + fixed(score, 3) + ")";
    text += "| " + probe.text + " | " + fills + " |\n";
  }
  return text;
}

std::string loss_curve_rows(const nlohmann::json& curve) {
  std::string text = "| Step | Training loss |\n|---|---|\n";
  for (const auto& point : curve) {
    text += "| " + std::to_string(point.at(0).get<int64_t>()) + " | " + fixed(point.at(1).get<double>(), 3) + " |\n";
  }
  return text;
}

}  // namespace

std::string render_pretraining_card(const PretrainingCardInputs& inputs) {
  std::string card =
      "---\nlibrary_name: graft\npipeline_tag: fill-mask\nlanguage: en\ntags:\n"
      "- masked-lm\n- graft\n---\n\n";
  card += "# " + inputs.name + "\n\n## Model description\n\n";
  card +=
      "A " + inputs.architecture + " (" + inputs.size + "; " + std::to_string(inputs.parameters) +
      " parameters) pretrained " +
      (inputs.base_model.empty() ? std::string("from random weights") : "further, from `" + inputs.base_model + "`,") +
      " with graft's masked-language-model objective (BERT's "
      "80/10/10 masking of 15% of the tokens). It is a base for transfer learning: graft a task head onto it "
      "and fine-tune (`graft train --model DIR ...`).\n\n";
  card += "## Training data\n\n";
  for (const auto& file : inputs.corpus_files) card += "- `" + file + "`\n";
  card += "\n```text\n" + trim_newlines(inputs.corpus_summary) + "\n```\n\n";
  card += "## Training procedure\n\n" + hyperparameter_list(inputs.training) + "\n";
  card += step_summary(inputs.training, "blocks/s");
  if (!inputs.loss_curve.empty()) card += "### Loss curve\n\n" + loss_curve_rows(inputs.loss_curve) + "\n";
  card += "## Evaluation results\n\nOn the held-out blocks (the same masks at every evaluation):\n\n";
  card += "```json\n" + inputs.eval_results.dump(2) + "\n```\n\n";
  if (!inputs.examples.empty()) card += "## Fill-mask examples\n\n" + probe_rows(inputs.examples) + "\n";
  card +=
      "## Limitations and bias\n\n"
      "This is a small model trained briefly on a small corpus: its predictions are often wrong, and it "
      "knows the language of its corpus (here nineteenth-century fiction and two centuries of political "
      "speeches), not of the present day. It reproduces the associations of that text, stereotypes "
      "included. The probe below (the templates of the bert-base-uncased card) shows some of them; "
      "fine-tuned models inherit them.\n\n";
  if (!inputs.bias_probe.empty()) card += probe_rows(inputs.bias_probe) + "\n";
  card +=
      "## How to use\n\n```bash\ngraft fill-mask --model DIR \"the whale swam in the [MASK].\"\n"
      "graft train --model DIR --train data.csv --output out \\\n"
      "  --stage \"freeze=distilbert,epochs=3,lr=1e-3\" --stage \"freeze=none,epochs=2,lr=5e-5\"\n```\n";
  return card;
}

std::string read_base_card(const std::string& model_dir) {
  const std::string path = model_dir + "/README.md";
  return std::filesystem::is_regular_file(path) ? read_file(path) : "";
}

}  // namespace graft
