// The routes of text-embeddings-inference over graft's pipelines, behind cpp-httplib (the only file that sees it).
#include "graft/serve/server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "graft/core/error.h"
#include "graft/pipelines/feature_extraction.h"
#include "graft/pipelines/fill_mask.h"
#include "graft/pipelines/text_classification.h"
#include "graft/pipelines/token_classification.h"
#include "serve/inference_queue.h"
#include "serve/metrics.h"
#include "serve/requests.h"

#ifndef GRAFT_VERSION
#define GRAFT_VERSION "0.1.0"
#endif

namespace graft {
namespace {

using nlohmann::json;
using serve::Clock;
using serve::Inputs;
using serve::RequestError;
using serve::Sequence;
using serve::validation_error;

// No route reads a body nested deeper than a few levels; deeper ones are refused before anything walks them.
constexpr int kMaxJsonDepth = 64;
// Each admissible request holds one of the HTTP pool's threads (made at start) while it waits for its batch.
constexpr int64_t kMaxConcurrentRequests = 4096;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// What one request did, for its log line, its headers and the metrics.
struct RequestRecord {
  int64_t tokens = 0;
  serve::RequestTimes times;
};

// Where each code point of `text` starts, in bytes, then its size: TEI's token offsets are bytes, graft's are code
// points.
std::vector<size_t> code_point_starts(const std::string& text) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  starts.push_back(text.size());
  return starts;
}

// Whether `given` is `expected`, in a time that depends on their lengths only, so that a client cannot find the
// API key a byte at a time from how long a wrong guess takes to refuse.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned difference = given.size() == expected.size() ? 0U : 1U;
  for (size_t i = 0; i < given.size(); ++i) {
    difference |= static_cast<unsigned char>(given[i]) ^
                  static_cast<unsigned char>(expected.empty() ? 0 : expected[i % expected.size()]);
  }
  return difference == 0;
}

// The route the metrics and the log name a POST to `path` by; any other path is "unknown", so that clients cannot
// grow the metrics without bound.
std::string route_of(const std::string& path) {
  static const std::vector<std::string> routes = {"predict", "embed",     "rerank", "tokenize",
                                                  "decode",  "fill_mask", "tag"};
  if (path == "/v1/embeddings") return "embed";
  const std::string name = path.empty() ? path : path.substr(1);
  return std::find(routes.begin(), routes.end(), name) != routes.end() ? name : "unknown";
}

std::string dtype_name_of(const ServeOptions& options) {
  if (options.int8) return "int8";
  return options.bf16 ? "bfloat16" : "float32";
}

}  // namespace

struct Server::State {
  ServeOptions options;
  std::unique_ptr<Model> model;
  Tokenizer tokenizer;
  std::optional<TextClassificationPipeline> classifier;
  std::optional<FeatureExtractionPipeline> embedder;
  std::optional<FillMaskPipeline> filler;
  std::optional<TokenClassificationPipeline> tagger;
  serve::Metrics metrics;
  std::unique_ptr<serve::InferenceQueue> queue;
  httplib::Server http;
  std::atomic<int> bound_port{0};
  int listening_socket = -1;
  std::mutex stop_mutex;  // guards the three flags below
  std::condition_variable listen_returned_changed;
  bool stop_requested = false;
  bool bound = false;
  bool listen_returned = false;

  explicit State(ServeOptions serve_options);
  int64_t max_length() const { return embedder->max_length(); }
  std::vector<serve::JobResult> run_batch(const std::vector<serve::Job*>& jobs);
  std::vector<Encoding> tokenize(const Inputs& inputs, bool truncate, RequestRecord& record) const;
  void require(bool served, const char* route, const char* model_kind) const;
  std::vector<std::vector<float>> embeddings(const serve::EmbedRequest& request, RequestRecord& record);
  json predict(const json& body, RequestRecord& record);
  json rerank(const json& body, RequestRecord& record);
  json fill_mask(const json& body, RequestRecord& record);
  json tag(const json& body, RequestRecord& record);
  json embed(const json& body, RequestRecord& record);
  json openai_embed(const json& body, RequestRecord& record);
  json tokenize_route(const json& body, RequestRecord& record) const;
  json decode(const json& body) const;
  json info() const;
  serve::JobResult infer(serve::Job job, RequestRecord& record);
  void post(const std::string& path, const std::string& route,
            const std::function<json(const json&, RequestRecord&)>& handler);
  void answer(const std::string& route, const httplib::Request& request, httplib::Response& response,
              const std::function<json(const json&, RequestRecord&)>& handler);
  void authorize(const httplib::Request& request) const;
  void log(const std::string& route, int status, const RequestRecord& record, const std::string& error) const;
};

Server::State::State(ServeOptions serve_options)
    : options(std::move(serve_options)), tokenizer(Tokenizer::from_pretrained(options.model_dir)) {
  check(options.max_batch_tokens > 0, "serve", "--max-batch-tokens must be positive");
  check(options.max_batch_requests >= 0, "serve", "--max-batch-requests must not be negative");
  check(options.max_concurrent_requests > 0 && options.max_concurrent_requests <= kMaxConcurrentRequests, "serve",
        "--max-concurrent-requests must be in [1, " + std::to_string(kMaxConcurrentRequests) + "], got " +
            std::to_string(options.max_concurrent_requests));
  check(options.max_client_batch_size > 0, "serve", "--max-client-batch-size must be positive");
  check(options.payload_limit > 0, "serve", "--payload-limit must be positive");
  LoadOptions load;
  load.int8 = options.int8;
  model = Model::from_pretrained(options.model_dir, load);
  // Each call of a pipeline is one batch of the queue: one packed forward.
  PipelineOptions pipeline;
  pipeline.batch_size = options.max_batch_tokens;
  pipeline.bf16 = options.bf16;
  FeatureExtractionOptions embedding;
  static_cast<PipelineOptions&>(embedding) = pipeline;
  embedding.pooling = options.pooling;
  embedder.emplace(*model, tokenizer, embedding);
  if (model->task() == TaskHead::SequenceClassification) {
    TextClassificationOptions classification;
    static_cast<PipelineOptions&>(classification) = pipeline;
    classifier.emplace(*model, tokenizer, classification);
  }
  if (model->task() == TaskHead::MaskedLM) {
    FillMaskOptions fill;
    static_cast<PipelineOptions&>(fill) = pipeline;
    filler.emplace(*model, tokenizer, fill);
  }
  if (model->task() == TaskHead::TokenClassification) {
    TokenClassificationOptions tagging;
    static_cast<PipelineOptions&>(tagging) = pipeline;
    tagger.emplace(*model, tokenizer, tagging);
  }
  if (options.model_id.empty()) options.model_id = options.model_dir;
  queue = std::make_unique<serve::InferenceQueue>(
      serve::BatchLimits{options.max_batch_tokens, options.max_batch_requests, options.max_concurrent_requests},
      [this](const std::vector<serve::Job*>& jobs) { return run_batch(jobs); },
      [this](int64_t requests, int64_t tokens) { metrics.batch(requests, tokens); });
}

// The worker's side: one pipeline call per kind of job (and score flag) in the batch, each job answered with its
// inputs' share of the outputs.
std::vector<serve::JobResult> Server::State::run_batch(const std::vector<serve::Job*>& jobs) {
  std::vector<serve::JobResult> results(jobs.size());
  const auto run_group = [&](serve::JobKind kind, bool raw_scores) {
    std::vector<size_t> members;
    std::vector<Encoding> encodings;
    std::vector<std::string> texts;
    int64_t top_k = 1;  // the largest asked for; each request keeps its own (fill_mask)
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (jobs[j]->kind != kind || jobs[j]->raw_scores != raw_scores) continue;
      members.push_back(j);
      encodings.insert(encodings.end(), jobs[j]->encodings.begin(), jobs[j]->encodings.end());
      texts.insert(texts.end(), jobs[j]->texts.begin(), jobs[j]->texts.end());
      top_k = std::max(top_k, jobs[j]->top_k);
    }
    if (encodings.empty()) return;
    const auto hand_out = [&](auto outputs, auto field) {  // in the order the members' inputs were joined
      size_t next = 0;
      for (const size_t j : members) {
        for (size_t i = 0; i < jobs[j]->encodings.size(); ++i)
          (results[j].*field).push_back(std::move(outputs[next++]));
      }
    };
    switch (kind) {
      case serve::JobKind::Classify:
        hand_out(classifier->classify(encodings, raw_scores), &serve::JobResult::labels);
        break;
      case serve::JobKind::Embed: hand_out(embedder->embed(encodings), &serve::JobResult::embeddings); break;
      case serve::JobKind::FillMask: hand_out(filler->fill(encodings, top_k), &serve::JobResult::fills); break;
      case serve::JobKind::Tag: hand_out(tagger->tag(encodings, texts), &serve::JobResult::entities); break;
    }
  };
  run_group(serve::JobKind::Classify, false);
  run_group(serve::JobKind::Classify, true);
  run_group(serve::JobKind::Embed, false);
  run_group(serve::JobKind::FillMask, false);
  run_group(serve::JobKind::Tag, false);
  return results;
}

// Each input's encoding with its specials; one longer than the model takes is truncated when asked to,
// refused (413) otherwise.
std::vector<Encoding> Server::State::tokenize(const Inputs& inputs, bool truncate, RequestRecord& record) const {
  const Clock::time_point start = Clock::now();
  if (inputs.sequences.empty()) throw RequestError(400, "`inputs` cannot be empty", "empty");
  const auto count = static_cast<int64_t>(inputs.sequences.size());
  if (count > options.max_client_batch_size) {
    throw validation_error(413, "batch size " + std::to_string(count) + " > maximum allowed batch size " +
                                    std::to_string(options.max_client_batch_size));
  }
  std::vector<Encoding> encodings;
  for (const Sequence& sequence : inputs.sequences) {
    if (sequence.first.empty() && (!sequence.second || sequence.second->empty())) {
      throw RequestError(400, "`inputs` cannot be empty", "empty");
    }
    EncodeOptions whole;
    const auto encode = [&](const EncodeOptions& encode_options) {
      return sequence.second ? tokenizer.encode_pair(sequence.first, *sequence.second, encode_options)
                             : tokenizer.encode(sequence.first, encode_options);
    };
    Encoding encoding = encode(whole);
    const auto tokens = static_cast<int64_t>(encoding.size());
    if (tokens > max_length()) {
      if (!truncate && !options.auto_truncate) {
        throw validation_error(413, "`inputs` must have less than " + std::to_string(max_length()) +
                                        " tokens. Given: " + std::to_string(tokens));
      }
      EncodeOptions truncated;
      truncated.max_length = max_length();
      truncated.truncation = Truncation::LongestFirst;
      encoding = encode(truncated);
    }
    record.tokens += static_cast<int64_t>(encoding.size());
    encodings.push_back(std::move(encoding));
  }
  record.times.tokenization = seconds_since(start);
  return encodings;
}

serve::JobResult Server::State::infer(serve::Job job, RequestRecord& record) {
  serve::JobResult result = queue->submit(std::move(job)).get();
  record.times.queue = result.queue_seconds;
  record.times.inference = result.inference_seconds;
  if (!result.error.empty()) throw RequestError(424, result.error, "backend");
  return result;
}

void Server::State::require(bool served, const char* route, const char* model_kind) const {
  if (!served) {
    throw validation_error(
        400, std::string(route) + " needs " + model_kind + "; this one is " + model->config().architectures.front());
  }
}

json Server::State::predict(const json& body, RequestRecord& record) {
  require(classifier.has_value(), "/predict", "a sequence-classification model");
  const serve::PredictRequest request = serve::predict_request(body);
  serve::Job job{.kind = serve::JobKind::Classify,
                 .encodings = tokenize(request.inputs, request.truncate, record),
                 .raw_scores = request.raw_scores};
  const serve::JobResult result = infer(std::move(job), record);
  json answers = json::array();
  for (const auto& labels : result.labels) {
    json ranked = json::array();
    for (const LabelScore& label : labels) ranked.push_back({{"score", label.score}, {"label", label.label}});
    answers.push_back(std::move(ranked));
  }
  return request.inputs.batch ? answers : answers[0];
}

// A cross-encoder's one score for (query, text), texts best first.
json Server::State::rerank(const json& body, RequestRecord& record) {
  require(classifier.has_value(), "/rerank", "a sequence-classification model");
  if (model->config().num_labels != 1) {
    throw validation_error(400, "/rerank needs a classifier with one label (a cross-encoder); this one has " +
                                    std::to_string(model->config().num_labels));
  }
  const serve::RerankRequest request = serve::rerank_request(body);
  Inputs pairs{{}, true};
  for (const std::string& text : request.texts) pairs.sequences.push_back({request.query, text});
  serve::Job job{.kind = serve::JobKind::Classify,
                 .encodings = tokenize(pairs, request.truncate, record),
                 .raw_scores = request.raw_scores};
  const serve::JobResult result = infer(std::move(job), record);
  std::vector<size_t> order(request.texts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return result.labels[a][0].score > result.labels[b][0].score; });
  json ranked = json::array();
  for (const size_t i : order) {
    json entry = {{"index", i}, {"score", result.labels[i][0].score}};
    if (request.return_text) entry["text"] = request.texts[i];
    ranked.push_back(std::move(entry));
  }
  return ranked;
}

// transformers' fill-mask output: per input, the fills of its mask (a list per mask when it has several).
json Server::State::fill_mask(const json& body, RequestRecord& record) {
  require(filler.has_value(), "/fill_mask", "a masked-LM model");
  const serve::FillMaskRequest request = serve::fill_mask_request(body);
  serve::Job job{.kind = serve::JobKind::FillMask, .encodings = tokenize(request.inputs, request.truncate, record)};
  for (size_t i = 0; i < job.encodings.size(); ++i) {
    if (filler->masks_in(job.encodings[i]).empty()) {
      const std::string input = request.inputs.batch ? "`inputs[" + std::to_string(i) + "]`" : "`inputs`";
      const bool truncated = request.truncate || options.auto_truncate;
      throw validation_error(422,
                             input + " has no " + tokenizer.id_to_token(tokenizer.mask_id()) + " token" +
                                 (truncated ? " within its first " + std::to_string(max_length()) + " tokens" : ""));
    }
  }
  job.top_k = request.top_k;
  const serve::JobResult result = infer(std::move(job), record);
  json answers = json::array();
  for (const auto& masks : result.fills) {
    json per_mask = json::array();
    for (const auto& fills : masks) {  // the batch's largest top_k: this request's first ones
      const auto kept = std::min(fills.size(), static_cast<size_t>(request.top_k));
      per_mask.push_back(fills_json(std::span<const MaskFill>(fills).first(kept)));
    }
    answers.push_back(masks.size() == 1 ? per_mask[0] : per_mask);
  }
  return request.inputs.batch ? answers : answers[0];
}

// transformers' token-classification output: entity groups ("simple"), or the word pieces ("none"); spans in
// code points of the input.
json Server::State::tag(const json& body, RequestRecord& record) {
  require(tagger.has_value(), "/tag", "a token-classification model");
  const serve::TagRequest request = serve::tag_request(body);
  serve::Job job{.kind = serve::JobKind::Tag, .encodings = tokenize(request.inputs, request.truncate, record)};
  for (const Sequence& sequence : request.inputs.sequences) job.texts.push_back(sequence.first);
  const serve::JobResult result = infer(std::move(job), record);
  json answers = json::array();
  for (const TokenClassificationResult& entities : result.entities) {
    answers.push_back(entities_json(entities, request.grouped));
  }
  return request.inputs.batch ? answers : answers[0];
}

std::vector<std::vector<float>> Server::State::embeddings(const serve::EmbedRequest& request, RequestRecord& record) {
  serve::Job job{.kind = serve::JobKind::Embed, .encodings = tokenize(request.inputs, request.truncate, record)};
  serve::JobResult result = infer(std::move(job), record);
  if (request.normalize) {
    for (std::vector<float>& vector : result.embeddings) {
      double norm = 0.0;
      for (const float value : vector) norm += static_cast<double>(value) * value;
      norm = std::sqrt(norm);
      if (norm > 0.0) {
        for (float& value : vector) value = static_cast<float>(value / norm);
      }
    }
  }
  return std::move(result.embeddings);
}

json Server::State::embed(const json& body, RequestRecord& record) {
  return embeddings(serve::embed_request(body), record);
}

json Server::State::openai_embed(const json& body, RequestRecord& record) {
  const std::vector<std::vector<float>> vectors = embeddings(serve::openai_embed_request(body), record);
  json data = json::array();
  for (size_t i = 0; i < vectors.size(); ++i) {
    data.push_back({{"object", "embedding"}, {"embedding", vectors[i]}, {"index", i}});
  }
  return {{"object", "list"},
          {"data", data},
          {"model", options.model_id},
          {"usage", {{"prompt_tokens", record.tokens}, {"total_tokens", record.tokens}}}};
}

json Server::State::tokenize_route(const json& body, RequestRecord& record) const {
  const serve::TokenizeRequest request = serve::tokenize_request(body);
  const Inputs& inputs = request.inputs;
  const bool add_special_tokens = request.add_special_tokens;
  if (inputs.sequences.empty()) throw RequestError(400, "`inputs` cannot be empty", "empty");
  if (static_cast<int64_t>(inputs.sequences.size()) > options.max_client_batch_size) {
    throw validation_error(413, "batch size " + std::to_string(inputs.sequences.size()) +
                                    " > maximum allowed batch size " + std::to_string(options.max_client_batch_size));
  }
  json answers = json::array();
  for (const Sequence& sequence : inputs.sequences) {
    EncodeOptions encode_options;
    encode_options.add_special_tokens = add_special_tokens;
    const Encoding encoding = tokenizer.encode(sequence.first, encode_options);
    record.tokens += static_cast<int64_t>(encoding.size());
    const std::vector<size_t> starts = code_point_starts(sequence.first);
    const auto byte_at = [&](int64_t code_point) {
      return starts[std::min(static_cast<size_t>(code_point), starts.size() - 1)];
    };
    json tokens = json::array();
    for (size_t t = 0; t < encoding.size(); ++t) {
      const bool special = encoding.special_tokens_mask[t] != 0;
      const size_t start = byte_at(encoding.offsets[t].first);
      const size_t stop = byte_at(encoding.offsets[t].second);
      // As TEI: a special token's text is the token, any other's the input's bytes it covers.
      tokens.push_back({{"id", encoding.ids[t]},
                        {"text", special ? encoding.tokens[t] : sequence.first.substr(start, stop - start)},
                        {"special", special},
                        {"start", special ? json() : json(start)},
                        {"stop", special ? json() : json(stop)}});
    }
    answers.push_back(std::move(tokens));
  }
  return answers;
}

json Server::State::decode(const json& body) const {
  const serve::DecodeRequest request = serve::decode_request(body);
  json texts = json::array();
  for (const std::vector<int64_t>& ids : request.ids) {
    for (const int64_t id : ids) {
      if (id < 0 || id >= tokenizer.vocab_size()) {
        throw validation_error(422, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                        std::to_string(tokenizer.vocab_size()) + ")");
      }
    }
    texts.push_back(tokenizer.decode(ids, request.skip_special_tokens));
  }
  return request.batch ? texts : texts[0];
}

json Server::State::info() const {
  json labels = {{"id2label", json::object()}, {"label2id", json::object()}};
  for (const auto& [id, label] : model->config().id2label) {
    labels["id2label"][std::to_string(id)] = label;
    labels["label2id"][label] = id;
  }
  // TEI's kinds, and graft's own for the models behind /fill_mask and /tag.
  json model_type;
  if (classifier) {
    model_type["classifier"] = labels;
  } else if (tagger) {
    model_type["token_classifier"] = labels;
  } else if (filler) {
    model_type["fill_mask"] = {{"mask_token", tokenizer.id_to_token(tokenizer.mask_id())}};
  } else {
    model_type["embedding"] = {{"pooling", options.pooling == Pooling::Cls ? "cls" : "mean"}};
  }
  return {{"model_id", options.model_id},
          {"model_sha", nullptr},
          {"model_dtype", dtype_name_of(options)},
          {"model_type", model_type},
          {"max_concurrent_requests", options.max_concurrent_requests},
          {"max_input_length", max_length()},
          {"max_batch_tokens", options.max_batch_tokens},
          {"max_batch_requests", options.max_batch_requests > 0 ? json(options.max_batch_requests) : json()},
          {"max_client_batch_size", options.max_client_batch_size},
          {"auto_truncate", options.auto_truncate},
          {"tokenization_workers", nullptr},
          {"version", GRAFT_VERSION}};
}

void Server::State::authorize(const httplib::Request& request) const {
  if (options.api_key.empty()) return;
  if (!same_secret(request.get_header_value("Authorization"), "Bearer " + options.api_key)) {
    throw RequestError(401, "Unauthorized", "unauthorized");
  }
}

void Server::State::log(const std::string& route, int status, const RequestRecord& record,
                        const std::string& error) const {
  const double milliseconds = record.times.total * 1e3;
  std::string line;
  if (options.json_logs) {
    json entry = {{"route", route},
                  {"status", status},
                  {"tokens", record.tokens},
                  {"tokenization_ms", record.times.tokenization * 1e3},
                  {"queue_ms", record.times.queue * 1e3},
                  {"inference_ms", record.times.inference * 1e3},
                  {"total_ms", milliseconds}};
    if (!error.empty()) entry["error"] = error;
    line = entry.dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    char times[160];
    std::snprintf(times, sizeof(times), "tokens=%lld tokenization=%.2fms queue=%.2fms inference=%.2fms total=%.2fms",
                  static_cast<long long>(record.tokens), record.times.tokenization * 1e3, record.times.queue * 1e3,
                  record.times.inference * 1e3, milliseconds);
    line = "graft serve: /" + route + " " + std::to_string(status) + " " + times + (error.empty() ? "" : " " + error);
  }
  std::cerr << line + "\n" << std::flush;  // one write per line, whole among the HTTP threads
}

// Every POST route: authorization, admission, the body's JSON, the handler, then headers, metrics and a log line.
void Server::State::answer(const std::string& route, const httplib::Request& request, httplib::Response& response,
                           const std::function<json(const json&, RequestRecord&)>& handler) {
  const Clock::time_point start = Clock::now();
  RequestRecord record;
  int status = 200;
  std::string error_type;
  std::string error;
  try {
    authorize(request);
    std::optional<serve::AdmissionSlot> slot = queue->admit();
    if (!slot) {
      if (queue->draining()) throw RequestError(503, "the server is shutting down", "unhealthy");
      throw RequestError(429, "Model is overloaded", "overloaded");
    }
    json body;
    bool too_deep = false;  // what is kept of a deeper body is discarded as it is parsed
    try {
      body = json::parse(request.body, [&too_deep](int depth, json::parse_event_t, json&) {
        too_deep = too_deep || depth > kMaxJsonDepth;
        return !too_deep;
      });
    } catch (const json::parse_error& parse) {
      throw validation_error(422, std::string("the request body is not JSON: ") + parse.what());
    }
    if (too_deep) {
      throw validation_error(422, "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    const json result = handler(body, record);
    response.set_content(result.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  } catch (const RequestError& failure) {
    status = failure.status();
    error_type = failure.type();
    error = failure.what();
  } catch (const Error& failure) {  // the tokenizer's, on input it cannot encode
    status = 422;
    error_type = "tokenizer";
    error = failure.what();
  } catch (const std::exception& failure) {  // a bug or exhausted memory: still an answer, a log line, a metric
    status = 500;
    error_type = "backend";
    error = failure.what();
  }
  record.times.total = seconds_since(start);
  response.status = status;
  if (status != 200) {
    response.set_content(
        json({{"error", error}, {"error_type", error_type}}).dump(-1, ' ', false, json::error_handler_t::replace),
        "application/json");
  } else {
    const auto milliseconds = [](double seconds) { return std::to_string(std::llround(seconds * 1e3)); };
    response.set_header("x-compute-time", milliseconds(record.times.total));
    response.set_header("x-compute-tokens", std::to_string(record.tokens));
    response.set_header("x-total-time", milliseconds(record.times.total));
    response.set_header("x-tokenization-time", milliseconds(record.times.tokenization));
    response.set_header("x-queue-time", milliseconds(record.times.queue));
    response.set_header("x-inference-time", milliseconds(record.times.inference));
  }
  metrics.request(route, status, error_type, record.times);
  log(route, status, record, error);
}

void Server::State::post(const std::string& path, const std::string& route,
                         const std::function<json(const json&, RequestRecord&)>& handler) {
  http.Post(path, [this, route, handler](const httplib::Request& request, httplib::Response& response) {
    answer(route, request, response, handler);
  });
}

Server::Server(ServeOptions options) : state_(std::make_unique<State>(std::move(options))) {
  State& state = *state_;
  state.post("/predict", "predict",
             [&state](const json& body, RequestRecord& record) { return state.predict(body, record); });
  state.post("/embed", "embed",
             [&state](const json& body, RequestRecord& record) { return state.embed(body, record); });
  state.post("/rerank", "rerank",
             [&state](const json& body, RequestRecord& record) { return state.rerank(body, record); });
  state.post("/fill_mask", "fill_mask",
             [&state](const json& body, RequestRecord& record) { return state.fill_mask(body, record); });
  state.post("/tag", "tag", [&state](const json& body, RequestRecord& record) { return state.tag(body, record); });
  state.post("/v1/embeddings", "embed",
             [&state](const json& body, RequestRecord& record) { return state.openai_embed(body, record); });
  state.post("/tokenize", "tokenize",
             [&state](const json& body, RequestRecord& record) { return state.tokenize_route(body, record); });
  state.post("/decode", "decode", [&state](const json& body, RequestRecord&) { return state.decode(body); });
  state.http.Get("/health", [&state](const httplib::Request&, httplib::Response& response) {
    if (state.queue->draining()) {
      response.status = 503;
      response.set_content(json({{"error", "the server is shutting down"}, {"error_type", "unhealthy"}}).dump(),
                           "application/json");
    }
  });
  state.http.Get("/info", [&state](const httplib::Request& request, httplib::Response& response) {
    try {
      state.authorize(request);
      response.set_content(state.info().dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
    } catch (const RequestError& failure) {
      response.status = failure.status();
      response.set_content(json({{"error", failure.what()}, {"error_type", failure.type()}}).dump(),
                           "application/json");
    }
  });
  state.http.Get("/metrics", [&state](const httplib::Request&, httplib::Response& response) {
    response.set_content(state.metrics.prometheus(state.queue->queued(), state.queue->admitted()),
                         "text/plain; version=0.0.4");
  });
  state.http.set_payload_max_length(static_cast<size_t>(state.options.payload_limit));
  // A body over the limit is refused by the library before any route runs: it gets TEI's body here. A body sent
  // as a form (curl -d without a Content-Type) the library caps at 8 KB whatever the limit.
  // Logged and counted like the routes' own refusals.
  state.http.set_error_handler([&state](const httplib::Request& request, httplib::Response& response) {
    if (response.status == 413 && response.body.empty()) {
      const bool form = request.get_header_value("Content-Type") == "application/x-www-form-urlencoded";
      const std::string message = form ? "a form body over 8 KB is refused: send it with Content-Type: application/json"
                                       : "the request body is larger than --payload-limit";
      response.set_content(json({{"error", message}, {"error_type", "validation"}}).dump(), "application/json");
      const std::string route = route_of(request.path);
      state.metrics.request(route, 413, "validation", {});
      state.log(route, 413, {}, message);
    }
  });
  // The library listens with a backlog of 5 connections, and a burst of clients beyond it waits a second for
  // its SYN to be retried: the socket is kept here to listen again with the system's backlog once bound.
  // TCP_NODELAY (inherited by the accepted sockets): the library writes a response's headers and body apart,
  // and Nagle's algorithm held the body back until the client's delayed ACK, 40 ms a request on one connection.
  state.http.set_socket_options([&state](int socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    state.listening_socket = socket;
  });
  // Every admitted request holds a thread while it waits for its batch: enough threads for all of them, and
  // some to answer the rest with 429 at once.
  const auto threads = static_cast<size_t>(state.options.max_concurrent_requests + 16);
  state.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
}

Server::~Server() {
  stop();
  // The HTTP threads still log and count after the last slot is given back: wait until listen() has joined them.
  std::unique_lock<std::mutex> lock(state_->stop_mutex);
  state_->listen_returned_changed.wait(lock, [this] { return !state_->bound || state_->listen_returned; });
}

void Server::listen() {
  State& state = *state_;
  const int port =
      state.options.port == 0
          ? state.http.bind_to_any_port(state.options.hostname)
          : (state.http.bind_to_port(state.options.hostname, state.options.port) ? state.options.port : -1);
  check(port > 0, "serve",
        "cannot listen on " + state.options.hostname + ":" + std::to_string(state.options.port) +
            " (in use, or not an address of this machine)");
  ::listen(state.listening_socket, SOMAXCONN);
  {
    const std::lock_guard<std::mutex> lock(state.stop_mutex);
    if (state.stop_requested) return;
    state.bound = true;
  }
  state.bound_port = port;
  std::cerr << "graft serve: " << state.options.model_id << " on http://" << state.options.hostname << ":" << port
            << '\n';
  state.http.listen_after_bind();
  {
    const std::lock_guard<std::mutex> lock(state.stop_mutex);
    state.listen_returned = true;
  }
  state.listen_returned_changed.notify_all();
}

void Server::stop() {
  State& state = *state_;
  {
    const std::lock_guard<std::mutex> lock(state.stop_mutex);
    if (state.stop_requested) return;
    state.stop_requested = true;
  }
  state.queue->drain();
  // The library's stop() does nothing until listen_after_bind() has marked it running: wait for that (or for
  // listen() to have returned) so that a stop just after the bind is not lost.
  std::unique_lock<std::mutex> lock(state.stop_mutex);
  while (state.bound && !state.listen_returned && !state.http.is_running()) {
    state.listen_returned_changed.wait_for(lock, std::chrono::milliseconds(1));
  }
  lock.unlock();
  state.http.stop();
}

int Server::port() const {
  return state_->bound_port;
}

void serve_until_signalled(const ServeOptions& options) {
  // Blocked in every thread made from here on, so that only the waiting thread below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Server server(options);
  std::atomic<bool> woken{false};  // by listen() having returned, not by a signal from outside
  std::thread stopper;
  // The first signal drains (Server::stop, in a thread of its own); a second one while it drains exits at once,
  // as a user who presses Ctrl-C twice expects.
  std::thread waiter([&] {
    for (int signals_received = 0;; ++signals_received) {
      int received = 0;
      sigwait(&signals, &received);
      if (woken) return;
      const char* name = received == SIGTERM ? "SIGTERM" : "SIGINT";
      if (signals_received > 0) {
        std::cerr << "graft serve: " << name << " again: exiting without answering what is still queued\n";
        std::_Exit(1);
      }
      std::cerr << "graft serve: " << name << ": answering what was admitted, then exiting (again: at once)\n";
      stopper = std::thread([&server] { server.stop(); });
    }
  });
  // listen() returns after the stopper's stop(), or at once when it cannot bind: then the waiter is woken.
  const auto wake_waiter = [&] {
    woken = true;
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    if (stopper.joinable()) stopper.join();
  };
  try {
    server.listen();
  } catch (...) {
    wake_waiter();
    throw;
  }
  wake_waiter();
}

}  // namespace graft
