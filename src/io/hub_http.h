#pragma once
// The few HTTP requests the Hub client makes, over libcurl: one easy handle per request, so no
// connection (or Authorization header) is ever reused for another host by accident.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace graft::hub_detail {

struct HttpRequest {
  std::string url;
  bool head_only = false;
  std::string bearer_token;  // empty: no Authorization header
  uint64_t range_start = 0;  // > 0: ask for the bytes from here on
  // libcurl sends the Authorization header only to the first request's host, port and scheme.
  bool follow_redirects = false;
  // Receives the body of a 2xx response as it arrives; returning false aborts the transfer.
  std::function<bool(long status, const char* data, size_t size)> body_sink;
};

struct HttpTimeouts {
  long connect_s = 10;
  long low_speed_s = 30;
};

struct HttpResponse {
  int transport_error = 0;         // CURLcode; 0 when an HTTP response arrived in full
  std::string transport_message;   // libcurl's description of transport_error
  bool could_not_connect = false;  // DNS or TCP failure: the server was never reached
  long status = 0;
  std::map<std::string, std::string> headers;  // of the last response, names in lower case
  std::string body;  // a non-2xx body (truncated), or the whole 2xx body when there is no sink

  std::string header(const std::string& lower_case_name) const;
};

HttpResponse http_send(const HttpRequest& request, const HttpTimeouts& timeouts);

// Percent-encodes everything but unreserved characters (and '/', when keep_slashes).
std::string url_encode(const std::string& text, bool keep_slashes);

// "scheme://host:port" of an absolute URL, lower-cased, with the default port made explicit.
std::string url_origin(const std::string& url);

}  // namespace graft::hub_detail
