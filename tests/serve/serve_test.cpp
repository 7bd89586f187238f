// graft serve over real HTTP on 127.0.0.1 (cpp-httplib's client): every route against the offline pipelines,
// TEI's error codes with the server serving on after each, overload (429), drain, and SIGTERM through the CLI.
#include <httplib.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "graft/pipelines/feature_extraction.h"
#include "graft/pipelines/fill_mask.h"
#include "graft/pipelines/text_classification.h"
#include "graft/pipelines/token_classification.h"
#include "graft/serve/server.h"
#include "test_support.h"

namespace graft {
namespace {

using nlohmann::json;

std::string tiny_distilbert() {
  return test::fixtures_dir() + "/tiny-distilbert";
}
std::string shipped_model() {
  return test::fixtures_dir() + "/../../models/distilbert-mini-uncased";
}

// A server listening on a free port in a thread of its own, stopped (drained) when dropped.
class RunningServer {
 public:
  explicit RunningServer(ServeOptions options) : server_(std::move(options)) {
    listening_ = std::thread([this] {
      try {
        server_.listen();
      } catch (const Error& error) {
        ADD_FAILURE() << error.what();
      }
    });
    for (int waited = 0; server_.port() == 0 && waited < 2000; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_NE(server_.port(), 0) << "the server did not listen within 10 s";
  }
  ~RunningServer() {
    server_.stop();
    listening_.join();
  }
  int port() const { return server_.port(); }
  Server& server() { return server_; }

 private:
  Server server_;
  std::thread listening_;
};

ServeOptions options_for(const std::string& model) {
  ServeOptions options;
  options.model_dir = model;
  options.port = 0;
  options.max_concurrent_requests = 32;  // the server makes a thread per admissible request
  return options;
}

struct Reply {
  int status;
  json body;
};

// A client of its own per call, so that calls from several threads never share one.
httplib::Client client_of(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  return client;
}

Reply post(int port, const std::string& path, const std::string& body, const httplib::Headers& headers = {}) {
  httplib::Client client = client_of(port);
  const auto result = client.Post(path.c_str(), headers, body, "application/json");
  if (!result) return {-1, json()};
  return {result->status, json::parse(result->body, nullptr, false)};
}

Reply get(int port, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Client client = client_of(port);
  const auto result = client.Get(path.c_str(), headers);
  if (!result) return {-1, json()};
  return {result->status, json::parse(result->body, nullptr, false)};
}

// Waits (up to a minute, for the sanitizers on a loaded machine) until `/metrics` counts `requests` admitted:
// a fixed sleep let a long request arrive after the stop it was meant to outlast (a flaky ThreadSanitizer run).
bool wait_until_admitted(int port, int requests) {
  const std::string gauge = "\ngraft_requests_admitted " + std::to_string(requests) + "\n";
  httplib::Client client = client_of(port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto metrics = client.Get("/metrics");
    if (metrics && metrics->body.find(gauge) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// Long enough that the checks made while it runs finish first: 16 inputs truncated to 512 tokens.
std::string slow_embed_body() {
  std::string sentence;
  for (int i = 0; i < 120; ++i) sentence += "profits fell sharply in the third quarter ";
  return json({{"inputs", std::vector<std::string>(16, sentence)}, {"truncate", true}}).dump();
}

TEST(Serve, PredictEmbedAndTokenizeGiveTheOfflinePipelinesAnswers) {
  const RunningServer running(options_for(tiny_distilbert()));
  const int client = running.port();
  const std::vector<std::string> texts = {"the quick brown fox", "hello world", "fox"};

  TextClassificationOptions all_labels;
  all_labels.top_k = 0;
  auto classifier = TextClassificationPipeline::from_pretrained(tiny_distilbert(), all_labels);
  const auto expected = classifier(texts);
  const Reply batch = post(client, "/predict", json({{"inputs", {{texts[0]}, {texts[1]}, {texts[2]}}}}).dump());
  ASSERT_EQ(batch.status, 200) << batch.body;
  ASSERT_EQ(batch.body.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_EQ(batch.body[i].size(), expected[i].size());
    for (size_t j = 0; j < expected[i].size(); ++j) {
      EXPECT_EQ(batch.body[i][j]["label"], expected[i][j].label);
      EXPECT_NEAR(batch.body[i][j]["score"].get<double>(), expected[i][j].score, 1e-6);
    }
  }
  // One text alone gets one list, with the same scores as within the batch (up to GEMM rounding).
  const Reply single = post(client, "/predict", json({{"inputs", texts[1]}}).dump());
  ASSERT_EQ(single.status, 200) << single.body;
  ASSERT_EQ(single.body.size(), 3U);
  for (size_t j = 0; j < 3; ++j) {
    EXPECT_EQ(single.body[j]["label"], batch.body[1][j]["label"]);
    EXPECT_NEAR(single.body[j]["score"].get<double>(), batch.body[1][j]["score"].get<double>(), 1e-5);
  }
  const Reply raw = post(client, "/predict", json({{"inputs", texts[0]}, {"raw_scores", true}}).dump());
  ASSERT_EQ(raw.status, 200);
  EXPECT_EQ(raw.body[0]["label"], expected[0][0].label);
  EXPECT_GT(std::abs(raw.body[0]["score"].get<double>() - expected[0][0].score), 1e-3);  // a logit, not softmax

  auto embedder = FeatureExtractionPipeline::from_pretrained(tiny_distilbert());
  const auto vectors = embedder(texts);
  const Reply embedded = post(client, "/embed", json({{"inputs", texts}, {"normalize", false}}).dump());
  ASSERT_EQ(embedded.status, 200) << embedded.body;
  ASSERT_EQ(embedded.body.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_EQ(embedded.body[i].size(), vectors[i].size());
    for (size_t d = 0; d < vectors[i].size(); ++d) EXPECT_NEAR(embedded.body[i][d].get<double>(), vectors[i][d], 1e-6);
  }
  const Reply normalized = post(client, "/embed", json({{"inputs", texts[0]}}).dump());
  ASSERT_EQ(normalized.status, 200);
  double norm = 0.0;
  for (const auto& value : normalized.body[0]) norm += value.get<double>() * value.get<double>();
  EXPECT_NEAR(norm, 1.0, 1e-5);

  const Reply tokens = post(client, "/tokenize", json({{"inputs", "hello world"}}).dump());
  ASSERT_EQ(tokens.status, 200);
  const Encoding encoding = classifier.tokenizer().encode("hello world");
  ASSERT_EQ(tokens.body[0].size(), encoding.size());
  for (size_t t = 0; t < encoding.size(); ++t) EXPECT_EQ(tokens.body[0][t]["id"], encoding.ids[t]);
  EXPECT_EQ(tokens.body[0][0]["special"], true);
  EXPECT_EQ(tokens.body[0][1]["start"], 0);
  // As TEI: offsets in bytes, and a token's text the input's bytes it covers ("é" is two bytes).
  const Reply accented = post(client, "/tokenize", json({{"inputs", "é fox"}}).dump());
  ASSERT_EQ(accented.status, 200) << accented.body;
  const json& last_word = accented.body[0][accented.body[0].size() - 2];
  EXPECT_EQ(last_word["text"], "fox");
  EXPECT_EQ(last_word["start"], 3);
  EXPECT_EQ(last_word["stop"], 6);

  const Reply info = get(client, "/info");
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(info.body["model_type"]["classifier"]["id2label"]["0"], "negative");
  EXPECT_EQ(info.body["max_client_batch_size"], 32);
  const auto metrics = client_of(client).Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("te_request_success{method=\"predict\"} 3"), std::string::npos) << metrics->body;
}

TEST(Serve, OpenAiEmbeddingsAndDecode) {
  const RunningServer running(options_for(tiny_distilbert()));
  const std::vector<std::string> texts = {"hello world", "fox"};
  const Reply tei = post(running.port(), "/embed", json({{"inputs", texts}}).dump());
  const Reply openai = post(running.port(), "/v1/embeddings", json({{"input", texts}, {"model", "any"}}).dump());
  ASSERT_EQ(openai.status, 200) << openai.body;
  EXPECT_EQ(openai.body["object"], "list");
  ASSERT_EQ(openai.body["data"].size(), 2U);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(openai.body["data"][i]["index"], i);
    EXPECT_EQ(openai.body["data"][i]["embedding"], tei.body[i]);
  }
  EXPECT_EQ(openai.body["usage"]["prompt_tokens"], 7);  // [CLS] hello world [SEP], [CLS] fox [SEP]

  const Tokenizer tokenizer = Tokenizer::from_pretrained(tiny_distilbert());
  const Encoding encoding = tokenizer.encode("the quick brown fox");
  const Reply decoded = post(running.port(), "/decode", json({{"ids", encoding.ids}}).dump());
  ASSERT_EQ(decoded.status, 200) << decoded.body;
  EXPECT_EQ(decoded.body, tokenizer.decode(encoding.ids));
  const Reply kept = post(running.port(), "/decode",
                          json({{"ids", {encoding.ids, encoding.ids}}, {"skip_special_tokens", false}}).dump());
  ASSERT_EQ(kept.status, 200);
  EXPECT_EQ(kept.body[1], tokenizer.decode(encoding.ids, false));
  const Reply outside = post(running.port(), "/decode", R"({"ids": [2, 100000]})");
  EXPECT_EQ(outside.status, 422);
  EXPECT_EQ(outside.body["error"],
            "token id 100000 is outside the vocabulary [0, " + std::to_string(tokenizer.vocab_size()) + ")");
  EXPECT_EQ(post(running.port(), "/rerank", R"({"query": "a", "texts": ["b"]})").status, 400);  // 3 labels
}

// /rerank on a one-label classifier: each (query, text) pair's sigmoid score, best first.
TEST(Serve, RerankScoresQueryTextPairsBestFirst) {
  const auto folder = std::filesystem::temp_directory_path() / ("graft-serve-rerank-" + std::to_string(::getpid()));
  LoadOptions one_label;
  one_label.labels = std::vector<std::string>{"relevance"};
  Model::from_pretrained(tiny_distilbert(), one_label)->save_pretrained(folder.string());
  Tokenizer::from_pretrained(tiny_distilbert()).save_pretrained(folder.string());
  const std::vector<std::string> texts = {"the lazy dog", "a quick brown fox", "hello"};
  const std::vector<std::string> queries(texts.size(), "fox");
  auto classifier = TextClassificationPipeline::from_pretrained(folder.string());
  const auto expected = classifier(queries, &texts);
  {
    const RunningServer running(options_for(folder.string()));
    const Reply ranked =
        post(running.port(), "/rerank", json({{"query", "fox"}, {"texts", texts}, {"return_text", true}}).dump());
    ASSERT_EQ(ranked.status, 200) << ranked.body;
    ASSERT_EQ(ranked.body.size(), texts.size());
    for (size_t r = 0; r < texts.size(); ++r) {
      const auto index = ranked.body[r]["index"].get<size_t>();
      EXPECT_EQ(ranked.body[r]["text"], texts[index]);
      EXPECT_NEAR(ranked.body[r]["score"].get<double>(), expected[index][0].score, 1e-5);
      if (r > 0) {
        EXPECT_LE(ranked.body[r]["score"].get<double>(), ranked.body[r - 1]["score"].get<double>());
      }
    }
  }
  std::filesystem::remove_all(folder);
}

// /fill_mask on the shipped masked-LM model: transformers' fill-mask shapes, the offline pipeline's fills.
TEST(Serve, FillMaskGivesTheOfflinePipelinesFills) {
  const RunningServer running(options_for(shipped_model()));
  const std::vector<std::string> texts = {"the capital of france is [MASK].", "[MASK] is good and [MASK] is bad."};
  FillMaskOptions three;
  three.top_k = 3;
  auto pipeline = FillMaskPipeline::from_pretrained(shipped_model(), three);
  const auto expected = pipeline(texts);
  const Reply batch = post(running.port(), "/fill_mask", json({{"inputs", texts}, {"top_k", 3}}).dump());
  ASSERT_EQ(batch.status, 200) << batch.body;
  ASSERT_EQ(batch.body.size(), 2U);
  const auto expect_fills = [](const json& answer, const std::vector<MaskFill>& fills) {
    ASSERT_EQ(answer.size(), fills.size()) << answer;
    for (size_t k = 0; k < fills.size(); ++k) {
      EXPECT_EQ(answer[k]["token"], fills[k].token);
      EXPECT_EQ(answer[k]["token_str"], fills[k].token_str);
      EXPECT_EQ(answer[k]["sequence"], fills[k].sequence);
      EXPECT_NEAR(answer[k]["score"].get<double>(), fills[k].score, 1e-5);
    }
  };
  expect_fills(batch.body[0], expected[0][0]);  // one mask: its fills
  ASSERT_EQ(batch.body[1].size(), 2U);          // two masks: a list of fills for each
  expect_fills(batch.body[1][0], expected[1][0]);
  expect_fills(batch.body[1][1], expected[1][1]);
  // One text alone, with the default top_k of 5, whose first three are the batch's.
  const Reply single = post(running.port(), "/fill_mask", json({{"inputs", texts[0]}}).dump());
  ASSERT_EQ(single.status, 200) << single.body;
  ASSERT_EQ(single.body.size(), 5U);
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(single.body[k]["token"], batch.body[0][k]["token"]);

  const Reply no_mask = post(running.port(), "/fill_mask", json({{"inputs", {"a mask", "no mask"}}}).dump());
  EXPECT_EQ(no_mask.status, 422);
  EXPECT_EQ(no_mask.body["error"], "`inputs[0]` has no [MASK] token");
  const Reply zero = post(running.port(), "/fill_mask", json({{"inputs", texts[0]}, {"top_k", 0}}).dump());
  EXPECT_EQ(zero.status, 422);
  EXPECT_EQ(zero.body["error"], "`top_k` must be an integer in [1, 100]");
  EXPECT_EQ(post(running.port(), "/fill_mask", json({{"inputs", texts[0]}, {"top_k", "3"}}).dump()).status, 422);
  const Reply tag = post(running.port(), "/tag", json({{"inputs", texts[0]}}).dump());
  EXPECT_EQ(tag.status, 400);
  EXPECT_EQ(tag.body["error"], "/tag needs a token-classification model; this one is DistilBertForMaskedLM");
  EXPECT_EQ(post(running.port(), "/predict", json({{"inputs", texts[0]}}).dump()).status, 400);
  EXPECT_EQ(get(running.port(), "/info").body["model_type"]["fill_mask"]["mask_token"], "[MASK]");
  EXPECT_EQ(post(running.port(), "/fill_mask", json({{"inputs", "still [MASK]"}}).dump()).status, 200);
}

// /tag on a token-classification model: entity groups by default, word pieces with "none", as the pipeline.
TEST(Serve, TagGivesTheOfflinePipelinesEntities) {
  const std::string tagger = test::fixtures_dir() + "/tiny-bert";
  const RunningServer running(options_for(tagger));
  const std::vector<std::string> texts = {"John Smith lives in Paris", "the quick brown fox jumps", "hello"};
  TokenClassificationOptions everything;
  everything.ignore_labels = {};
  auto all_tags = TokenClassificationPipeline::from_pretrained(tagger, everything);
  auto pipeline = TokenClassificationPipeline::from_pretrained(tagger);
  const auto expected = pipeline(texts);
  const auto tagged = all_tags(texts);
  // The tiny model's random head tags some pieces as persons and some as "O" (left out by default), so that
  // groups, pieces and the ignored label are all exercised.
  size_t kept = 0;
  size_t all = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    kept += expected[i].entities.size();
    all += tagged[i].entities.size();
  }
  ASSERT_GT(kept, 0U);
  ASSERT_LT(kept, all);

  const Reply grouped = post(running.port(), "/tag", json({{"inputs", texts}}).dump());
  ASSERT_EQ(grouped.status, 200) << grouped.body;
  const Reply pieces = post(running.port(), "/tag", json({{"inputs", texts}, {"aggregation_strategy", "none"}}).dump());
  ASSERT_EQ(pieces.status, 200) << pieces.body;
  ASSERT_EQ(grouped.body.size(), texts.size());
  ASSERT_EQ(pieces.body.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_EQ(grouped.body[i].size(), expected[i].groups.size()) << grouped.body[i];
    for (size_t g = 0; g < expected[i].groups.size(); ++g) {
      const EntityGroup& group = expected[i].groups[g];
      EXPECT_EQ(grouped.body[i][g]["entity_group"], group.entity_group);
      EXPECT_EQ(grouped.body[i][g]["word"], group.word);
      EXPECT_EQ(grouped.body[i][g]["start"], group.start);
      EXPECT_EQ(grouped.body[i][g]["end"], group.end);
      EXPECT_NEAR(grouped.body[i][g]["score"].get<double>(), group.score, 1e-5);
    }
    ASSERT_EQ(pieces.body[i].size(), expected[i].entities.size()) << pieces.body[i];
    for (size_t t = 0; t < expected[i].entities.size(); ++t) {
      const TokenEntity& piece = expected[i].entities[t];
      EXPECT_EQ(pieces.body[i][t]["entity"], piece.entity);
      EXPECT_EQ(pieces.body[i][t]["index"], piece.index);
      EXPECT_EQ(pieces.body[i][t]["word"], piece.word);
      EXPECT_EQ(pieces.body[i][t]["start"], piece.start);
      EXPECT_EQ(pieces.body[i][t]["end"], piece.end);
      EXPECT_NEAR(pieces.body[i][t]["score"].get<double>(), piece.score, 1e-5);
    }
  }
  // One text alone: one list, not a list of lists.
  const Reply single =
      post(running.port(), "/tag", json({{"inputs", texts[0]}, {"aggregation_strategy", "none"}}).dump());
  ASSERT_EQ(single.status, 200);
  ASSERT_EQ(single.body.size(), pieces.body[0].size());
  for (size_t t = 0; t < single.body.size(); ++t) {  // the same pieces, scores up to GEMM rounding
    EXPECT_EQ(single.body[t]["index"], pieces.body[0][t]["index"]);
    EXPECT_EQ(single.body[t]["entity"], pieces.body[0][t]["entity"]);
    EXPECT_NEAR(single.body[t]["score"].get<double>(), pieces.body[0][t]["score"].get<double>(), 1e-5);
  }

  // A text longer than the model's 64 positions: refused, or tagged on its first 64 tokens when truncated.
  std::string long_text;
  for (int word = 0; word < 100; ++word) long_text += "john ";
  EXPECT_EQ(post(running.port(), "/tag", json({{"inputs", long_text}}).dump()).status, 413);
  const Reply truncated = post(running.port(), "/tag", json({{"inputs", long_text}, {"truncate", true}}).dump());
  ASSERT_EQ(truncated.status, 200) << truncated.body;
  for (const json& group : truncated.body) EXPECT_LE(group["end"].get<int64_t>(), 62 * 5);
  const Reply strategy =
      post(running.port(), "/tag", json({{"inputs", texts[0]}, {"aggregation_strategy", "max"}}).dump());
  EXPECT_EQ(strategy.status, 422);
  EXPECT_EQ(strategy.body["error"], "`aggregation_strategy` must be \"simple\" or \"none\"");
  EXPECT_EQ(post(running.port(), "/fill_mask", json({{"inputs", "a [MASK]"}}).dump()).status, 400);
  EXPECT_EQ(get(running.port(), "/info").body["model_type"]["token_classifier"]["id2label"]["1"], "B-PER");
}

// Requests from many clients at once, batched together by the worker: each gets the answer for its own texts.
TEST(Serve, ConcurrentRequestsEachGetTheirOwnAnswers) {
  const RunningServer running(options_for(tiny_distilbert()));
  TextClassificationOptions all_labels;
  all_labels.top_k = 0;
  auto classifier = TextClassificationPipeline::from_pretrained(tiny_distilbert(), all_labels);
  const std::vector<std::string> words = {"fox", "dog", "hello", "world", "quick", "brown", "lazy", "jump"};
  std::vector<std::vector<std::string>> requests;
  for (size_t r = 0; r < 24; ++r) {
    std::vector<std::string> texts;
    for (size_t i = 0; i <= r % 4; ++i) texts.push_back(words[(r + i) % words.size()] + " " + words[(r * 3 + i) % 8]);
    requests.push_back(texts);
  }
  std::vector<std::future<Reply>> replies;
  for (const auto& texts : requests) {
    json inputs = json::array();
    for (const auto& text : texts) inputs.push_back({text});
    replies.push_back(std::async(std::launch::async, [&, body = json({{"inputs", inputs}}).dump()] {
      return post(running.port(), "/predict", body);
    }));
  }
  for (size_t r = 0; r < requests.size(); ++r) {
    const Reply reply = replies[r].get();
    ASSERT_EQ(reply.status, 200) << reply.body;
    const auto expected = classifier(requests[r]);
    ASSERT_EQ(reply.body.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      for (size_t j = 0; j < expected[i].size(); ++j) {
        EXPECT_EQ(reply.body[i][j]["label"], expected[i][j].label) << "request " << r << " input " << i;
        EXPECT_NEAR(reply.body[i][j]["score"].get<double>(), expected[i][j].score, 1e-5) << "request " << r;
      }
    }
  }
}

// Each error from a real request, with TEI's status and error_type, and a good request answered after each.
TEST(Serve, BadRequestsGetTeiErrorsAndTheServerServesOn) {
  ServeOptions options = options_for(tiny_distilbert());
  options.api_key = "secret";
  const RunningServer running(options);
  const int client = running.port();
  const httplib::Headers key = {{"Authorization", "Bearer secret"}};
  const auto good = [&] {
    const Reply reply = post(client, "/predict", R"({"inputs": "hello"})", key);
    EXPECT_EQ(reply.status, 200) << reply.body;
  };
  const auto expect_error = [&](const std::string& body, int status, const std::string& type) {
    const Reply reply = post(client, "/predict", body, key);
    EXPECT_EQ(reply.status, status) << body.substr(0, 80) << " -> " << reply.body;
    EXPECT_EQ(reply.body["error_type"], type) << body.substr(0, 80);
    EXPECT_TRUE(reply.body["error"].is_string());
    good();
  };
  expect_error(R"({"inputs": "hello")", 422, "validation");      // invalid JSON
  expect_error("{\"inputs\": \"caf\xff\"}", 422, "validation");  // invalid UTF-8
  expect_error(R"({"inputs": 7})", 422, "validation");           // wrong type
  expect_error(R"({"inputs": "hello", "truncate": "yes"})", 422, "validation");
  expect_error(R"({"text": "hello"})", 422, "validation");
  expect_error(R"({"inputs": ""})", 400, "empty");
  expect_error(R"({"inputs": []})", 400, "empty");
  expect_error(json({{"inputs", std::vector<std::vector<std::string>>(33, {"hi"})}}).dump(), 413, "validation");
  expect_error(json({{"inputs", std::string(3'000'000, 'a')}}).dump(), 413, "validation");
  std::string long_text;
  for (int i = 0; i < 100'000; ++i) long_text += "fox ";
  expect_error(json({{"inputs", long_text}}).dump(), 413, "validation");
  // Nested 100,000 deep: refused before anything walks it (dump() would recurse as deep and overflow the stack).
  expect_error("{\"inputs\": " + std::string(100'000, '[') + std::string(100'000, ']') + "}", 422, "validation");
  const Reply truncated = post(client, "/predict", json({{"inputs", long_text}, {"truncate", true}}).dump(), key);
  EXPECT_EQ(truncated.status, 200) << truncated.body;

  // curl -d without -H sends a form, which cpp-httplib caps at 8 KB: the message says what to send instead.
  const auto form = client_of(client).Post("/predict", key, json({{"inputs", std::string(9000, 'a')}}).dump(),
                                           "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 413);
  EXPECT_EQ(json::parse(form->body)["error"],
            "a form body over 8 KB is refused: send it with Content-Type: application/json");
  good();

  const Reply unauthorized = post(client, "/predict", R"({"inputs": "hello"})");
  EXPECT_EQ(unauthorized.status, 401);
  EXPECT_EQ(get(client, "/info").status, 401);
  for (const char* wrong : {"Bearer secre", "Bearer secrets", "Bearer secreT", "secret", ""}) {
    EXPECT_EQ(post(client, "/predict", R"({"inputs": "hello"})", {{"Authorization", wrong}}).status, 401) << wrong;
  }
  EXPECT_EQ(get(client, "/health").status, 200);  // health and metrics need no key
  const auto metrics = client_of(client).Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  // The library's own refusals (the 3 MB body, the form) are counted with the route's: 10 validation errors.
  EXPECT_NE(metrics->body.find("te_request_failure{method=\"predict\",err=\"validation\"} 10\n"), std::string::npos)
      << metrics->body;
  good();
}

// A long request holds the only admission slot: requests meanwhile get 429 at once, and the long one its answer.
TEST(Serve, BeyondMaxConcurrentRequestsIsRefusedAtOnceAndTheAdmittedAreAnswered) {
  ServeOptions options = options_for(shipped_model());
  options.max_concurrent_requests = 1;
  const RunningServer running(options);
  const int client = running.port();
  const std::string slow_body = slow_embed_body();
  auto slow = std::async(std::launch::async, [&] { return post(client, "/embed", slow_body).status; });
  ASSERT_TRUE(wait_until_admitted(client, 1)) << "the long request was not admitted within a minute";
  const Reply refused = post(client, "/embed", R"({"inputs": "hello"})");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.body["error_type"], "overloaded");
  EXPECT_EQ(slow.get(), 200);
  EXPECT_EQ(post(client, "/embed", R"({"inputs": "hello"})").status, 200);
}

// stop() while a request runs: /health says 503, the request is answered, then listen() returns.
TEST(Serve, StopAnswersWhatWasAdmittedWhileHealthSays503) {
  auto running = std::make_unique<RunningServer>(options_for(shipped_model()));
  const int client = running->port();
  const std::string slow_body = slow_embed_body();
  auto slow = std::async(std::launch::async, [&] { return post(client, "/embed", slow_body).status; });
  ASSERT_TRUE(wait_until_admitted(client, 1)) << "the long request was not admitted within a minute";
  auto stopping = std::async(std::launch::async, [&] { running->server().stop(); });
  Reply health = get(client, "/health");
  while (health.status == 200) health = get(client, "/health");  // until stop() has begun draining
  const Reply refused = post(client, "/embed", R"({"inputs": "hello"})");
  EXPECT_EQ(slow.get(), 200);
  stopping.get();
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.body["error_type"], "unhealthy");
  running.reset();  // listen() has returned: the thread joins
}

int64_t resident_kb() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// Many requests, one in ten bad: every good one answered, every bad one refused, and memory flat after warm-up.
TEST(Serve, SoakKeepsAnsweringWithFlatMemory) {
#ifdef GRAFT_SANITIZED_BUILD
  constexpr int kRequests = 2'000;  // the sanitizers' shadow memory and 10x slower requests
#else
  constexpr int kRequests = 20'000;
#endif
  const RunningServer running(options_for(tiny_distilbert()));
  httplib::Client client = client_of(running.port());  // one kept-alive connection
  const std::vector<std::string> bad = {R"({"inputs": )", R"({"inputs": ""})", R"({"inputs": 3})",
                                        json({{"inputs", std::vector<std::vector<std::string>>(40, {"x"})}}).dump()};
  int failed_good = 0, accepted_bad = 0;
  int64_t after_warm_up = 0;
  for (int i = 0; i < kRequests; ++i) {
    const bool is_bad = i % 10 == 9;
    const std::string body = is_bad ? bad[static_cast<size_t>(i / 10) % bad.size()]
                                    : json({{"inputs", {{"the quick brown fox " + std::to_string(i)}}}}).dump();
    const auto result = client.Post("/predict", body, "application/json");
    const int status = result ? result->status : -1;
    if (is_bad && status == 200) ++accepted_bad;
    if (!is_bad && status != 200) ++failed_good;
    if (i == kRequests / 20 - 1) after_warm_up = resident_kb();
  }
  EXPECT_EQ(failed_good, 0);
  EXPECT_EQ(accepted_bad, 0);
#ifndef GRAFT_SANITIZED_BUILD  // their quarantine and shadow memory grow with every allocation by design
  const int64_t at_end = resident_kb();
  EXPECT_LE(at_end, after_warm_up * 105 / 100) << "RSS " << after_warm_up << " kB after the first " << kRequests / 20
                                               << " requests, " << at_end << " kB at the end";
#else
  (void)after_warm_up;
#endif
}

// SIGTERM while requests run: each admitted one gets its answer (200), then graft serve exits 0.
TEST(ServeCli, SigtermDuringLoadAnswersTheAdmittedAndExitsZero) {
  std::string sentence;
  for (int i = 0; i < 120; ++i) sentence += "shares rose after the merger ";
  const std::string body = json({{"inputs", std::vector<std::string>(8, sentence)}, {"truncate", true}}).dump();
  const std::string curl = "curl -s -o /dev/null -w '%{http_code}\\n' -H 'Content-Type: application/json' -d '" + body +
                           "' 127.0.0.1:$port/embed";
  // Port 0: the server picks a free one, and its first line says which.
  const std::string script = "dir=$(mktemp -d); " + test::cli_path() + " serve --model " + shipped_model() +
                             " --port 0 2>$dir/log & pid=$!; "
                             "for i in $(seq 100); do grep -q 'on http' $dir/log && break; sleep 0.1; done; "
                             "port=$(sed -n 's/.*on http:.*:\\([0-9]*\\)$/\\1/p' $dir/log); "
                             "for c in 1 2 3 4 5 6; do " +
                             curl +
                             " > $dir/curl$c & done; sleep 0.3; "
                             "kill -TERM $pid; wait $pid; status=$?; wait; echo \"exit $status\"; cat $dir/curl*; "
                             "grep -c '/embed 200' $dir/log; cat $dir/log; rm -rf $dir";
  const auto result = test::run_command(script);
  const std::string expected = "exit 0\n200\n200\n200\n200\n200\n200\n6\n";  // the status, six answers, six logged
  EXPECT_EQ(result.output.substr(0, expected.size()), expected) << result.output;
  EXPECT_NE(result.output.find("SIGTERM: answering what was admitted"), std::string::npos) << result.output;
}

// A second SIGTERM while draining exits at once, non-zero, without waiting for what is queued.
TEST(ServeCli, SecondSigtermExitsAtOnce) {
  std::string sentence;
  for (int i = 0; i < 120; ++i) sentence += "shares rose after the merger ";
  const std::string body = json({{"inputs", std::vector<std::string>(32, sentence)}, {"truncate", true}}).dump();
  const std::string curl =
      "curl -s -o /dev/null -H 'Content-Type: application/json' -d '" + body + "' 127.0.0.1:$port/embed";
  const std::string script = "dir=$(mktemp -d); " + test::cli_path() + " serve --model " + shipped_model() +
                             " --port 0 2>$dir/log & pid=$!; "
                             "for i in $(seq 100); do grep -q 'on http' $dir/log && break; sleep 0.1; done; "
                             "port=$(sed -n 's/.*on http:.*:\\([0-9]*\\)$/\\1/p' $dir/log); "
                             "for c in $(seq 24); do " +
                             curl +
                             " & done; sleep 0.3; kill -TERM $pid; sleep 0.2; kill -TERM $pid; "
                             "wait $pid; echo \"exit $?\"; grep -c '/embed 200' $dir/log; cat $dir/log; rm -rf $dir";
  const auto result = test::run_command(script);
  EXPECT_EQ(result.output.substr(0, 7), "exit 1\n") << result.output;
  const auto answered = std::stoi(result.output.substr(7));
  EXPECT_LT(answered, 24) << "the drain ended before the second signal: the load is too light for this test";
  EXPECT_NE(result.output.find("SIGTERM again: exiting without answering what is still queued"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace graft
