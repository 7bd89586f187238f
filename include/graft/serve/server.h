#pragma once
// graft serve: a model behind text-embeddings-inference's HTTP API (its routes, JSON shapes, error codes and
// option names), so that TEI's clients work unchanged. The HTTP threads parse and tokenize; one inference
// worker forms batches from the queue by token budget, as TEI does, and runs them packed (data/batch.h).
//
//   ServeOptions options;
//   options.model_dir = "out/model";
//   Server server(options);     // loads the model and the tokenizer
//   server.listen();            // serves until stop(), then returns once every admitted request is answered
#include <cstdint>
#include <memory>
#include <string>

#include "graft/models/custom.h"  // Pooling

namespace graft {

struct ServeOptions {
  std::string model_dir;  // a model folder (the CLI resolves Hub ids to one)
  std::string model_id;   // what /info calls the model; the folder when empty
  std::string hostname = "127.0.0.1";
  int port = 3000;  // 0: a free port, which port() then says
  // A batch takes queued requests in order while its tokens stay within this budget and its requests within
  // max_batch_requests (0: no limit); a request over the budget on its own runs alone.
  int64_t max_batch_tokens = 16384;
  int64_t max_batch_requests = 0;
  // Requests admitted at once (queued or running); more are refused with 429 at once.
  int64_t max_concurrent_requests = 512;
  int64_t max_client_batch_size = 32;  // inputs in one request
  int64_t payload_limit = 2'000'000;   // bytes of a request body
  bool auto_truncate = false;          // truncate long inputs even when the request does not ask to
  std::string api_key;                 // when set, every route but /health and /metrics needs "Bearer KEY"
  Pooling pooling = Pooling::Cls;      // of /embed
  bool bf16 = false;
  bool int8 = false;
  bool json_logs = false;  // one JSON object per request on stderr instead of a line of text
};

class Server {
 public:
  // Loads the model and its tokenizer; graft::Error naming what is wrong with them or with an option.
  explicit Server(ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds hostname:port and serves until stop(); graft::Error when it cannot bind.
  void listen();
  // Thread-safe, and safe before listen(): stops admitting (new requests and /health get 503), answers every
  // admitted request, then makes listen() return.
  void stop();
  // The port bound (the chosen one for port 0), once listen() has bound it; 0 before.
  int port() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Serves until SIGTERM or SIGINT, then drains (Server::stop) and returns: `graft serve`.
void serve_until_signalled(const ServeOptions& options);

}  // namespace graft
