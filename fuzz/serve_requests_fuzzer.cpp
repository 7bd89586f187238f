// Request bodies as graft serve reads them (src/serve/requests.h): the bytes as JSON, then through every
// route's reader. Bytes that are not JSON are the server's 422 before any reader runs.
#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "serve/requests.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json body = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;
  graft::fuzz::expect_graft_errors_only([&] { (void)graft::serve::predict_request(body); });
  graft::fuzz::expect_graft_errors_only([&] { (void)graft::serve::embed_request(body); });
  graft::fuzz::expect_graft_errors_only([&] { (void)graft::serve::openai_embed_request(body); });
  graft::fuzz::expect_graft_errors_only([&] { (void)graft::serve::tokenize_request(body); });
  graft::fuzz::expect_graft_errors_only([&] { (void)graft::serve::rerank_request(body); });
  graft::fuzz::expect_graft_errors_only([&] { (void)graft::serve::decode_request(body); });
  graft::fuzz::expect_graft_errors_only([&] { (void)graft::serve::fill_mask_request(body); });
  graft::fuzz::expect_graft_errors_only([&] { (void)graft::serve::tag_request(body); });
  return 0;
}
