// graft serve --model M [TEI's options]: the model behind text-embeddings-inference's HTTP API until SIGTERM.
#include <memory>

#include "cli_common.h"
#include "command.h"
#include "graft/core/parallel.h"
#include "graft/io/hub.h"
#include "graft/pipelines/feature_extraction.h"
#include "graft/serve/server.h"

namespace graft::cli {
namespace {

struct ServeCliOptions {
  ServeOptions serve;
  std::string model;
  std::string pooling = "cls";
  int threads = 0;
};

void run_serve(ServeCliOptions options) {
  if (options.threads > 0) set_num_threads(options.threads);
  options.serve.model_id = options.model;
  options.serve.model_dir = resolve_model_path(options.model);
  options.serve.pooling = pooling_named(options.pooling);
  serve_until_signalled(options.serve);
}

void add_serve_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "serve",
      "Serve a model over HTTP with text-embeddings-inference's API (/predict, /embed, /v1/embeddings, "
      "/rerank, /tokenize, /decode, /health, /info, /metrics) and graft's /fill_mask and /tag until SIGTERM or SIGINT, "
      "which answers what was admitted before exiting");
  auto options = std::make_shared<ServeCliOptions>();
  ServeOptions& serve = options->serve;
  command->add_option("--model", options->model, "Model folder or Hub id ORG/NAME[@REVISION]")->required();
  command->add_option("--hostname", serve.hostname, "Address to listen on")->capture_default_str();
  command->add_option("--port", serve.port, "Port to listen on (0: any free one)")->capture_default_str();
  command->add_option("--max-batch-tokens", serve.max_batch_tokens, "Most tokens in one batch")->capture_default_str();
  command->add_option("--max-batch-requests", serve.max_batch_requests, "Most requests in one batch (0: no limit)")
      ->capture_default_str();
  command
      ->add_option("--max-concurrent-requests", serve.max_concurrent_requests,
                   "Requests admitted at once; more get 429 at once")
      ->capture_default_str();
  command->add_option("--max-client-batch-size", serve.max_client_batch_size, "Most inputs in one request")
      ->capture_default_str();
  command->add_option("--payload-limit", serve.payload_limit, "Most bytes in a request body")->capture_default_str();
  command->add_flag("--auto-truncate", serve.auto_truncate, "Truncate inputs longer than the model takes");
  command->add_option("--api-key", serve.api_key, "Require 'Authorization: Bearer KEY' (but on /health, /metrics)");
  command->add_option("--pooling", options->pooling, "/embed's pooling: cls or mean")
      ->check(CLI::IsMember({"cls", "mean"}))
      ->capture_default_str();
  command->add_flag("--bf16", serve.bf16, "bf16 matmuls (fast with AVX512-BF16 or AMX)");
  add_int8_option(*command, serve.int8);
  command->add_option("--threads", options->threads, "Threads for inference (0: all cores)")->capture_default_str();
  command->add_flag("--json-logs", serve.json_logs, "One JSON object per request on stderr");
  command->callback([options] { run_serve(*options); });
}

const Registration kServe{"serve", 47, add_serve_command};

}  // namespace
}  // namespace graft::cli
