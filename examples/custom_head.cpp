// Transfer learning with your own head, as in the Keras guide (keras.io/guides/transfer_learning):
// take a pretrained base, put new layers on its [CLS] output, train them with the base frozen, then
// unfreeze everything and fine-tune at a low learning rate.
//
//   custom_head [model folder]      (default: tests/fixtures/tiny-distilbert; run from the repo root)
#include <cstdio>
#include <string>
#include <vector>

#include "graft/graft.h"

using namespace graft;

namespace {

void train(EncoderWithHead& model, const BatchSource& data, double learning_rate, int64_t steps) {
  TrainingArguments args;
  args.max_steps = steps;
  args.learning_rate = learning_rate;
  args.lr_scheduler = "constant";
  args.eval_strategy = "no";
  args.logging_steps = 1;
  args.progress_bar = false;
  Trainer trainer(model, args, TaskHead::SequenceClassification, "", {"negative", "positive"});
  trainer.on_log = [](const nlohmann::json& entry) {
    std::printf("  step %2d  loss %.4f\n", entry["step"].get<int>(), entry["loss"].get<double>());
  };
  trainer.train(data);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "tests/fixtures/tiny-distilbert";

  // The data: a handful of sentences, tokenized with the checkpoint's own tokenizer.
  const Tokenizer tokenizer = Tokenizer::from_pretrained(dir);
  const std::vector<std::string> texts = {"a great movie",   "i loved it",          "what a waste of time",
                                          "terrible acting", "fun and moving",      "boring and too long",
                                          "the best film",   "i want my money back"};
  Labels labels;
  labels.classes = {1, 1, 0, 0, 1, 0, 1, 0};  // 0 negative, 1 positive
  const EncodedSource data(tokenizer.encode_batch(texts, {}), labels, /*batch_size=*/4, tokenizer.pad_id(),
                           BatchOrder::Shuffled, /*seed=*/42);

  // The base: the encoder alone (any head in the checkpoint is left out).
  auto base = EncoderWithHead::load_base(dir);
  const int64_t dim = base->config().hidden_size;

  // The new head, DistilBertForSequenceClassification's layers written out, initialised normal(0, 0.02).
  auto head = std::make_unique<Sequential>();
  head->add("pre_classifier", std::make_unique<Linear>(dim, dim));
  head->add("relu", std::make_unique<ActivationLayer>(Activation::Relu));
  head->add("dropout", std::make_unique<Dropout>(0.2F, &base->generator()));
  head->add("classifier", std::make_unique<Linear>(dim, 2));
  Generator init(42);
  initialize_parameters(head->named_parameters(), 0.02F, /*padding_index=*/-1, init);

  // Registered at the top level, the head's weights are named as transformers names them.
  EncoderWithHead model(std::move(base), std::move(head), "", Pooling::Cls);

  std::printf("Training the new head, base frozen:\n");
  apply_freeze_spec(model, "distilbert");
  std::printf("%s\n", parameter_tree(model, 1).c_str());
  train(model, data, /*learning_rate=*/1e-3, /*steps=*/10);

  std::printf("Fine-tuning everything at a low learning rate:\n");
  apply_freeze_spec(model, "none");
  train(model, data, /*learning_rate=*/1e-5, /*steps=*/6);
  return 0;
}
