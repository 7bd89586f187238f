#include "io/hub_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace graft::hub_detail {
namespace {

constexpr size_t kMaxKeptBody = size_t{64} * 1024;

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
};

std::string trim(std::string text) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// With redirects followed, libcurl reports every response's headers; a status line starts a new one.
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    const auto space = line.find(' ');
    transfer->response->status = space == std::string::npos ? 0 : std::strtol(line.c_str() + space + 1, nullptr, 10);
    transfer->response->headers.clear();
  } else if (const auto colon = line.find(':'); colon != std::string::npos) {
    transfer->response->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  HttpResponse& response = *transfer->response;
  const size_t bytes = size * count;
  const bool success = response.status >= 200 && response.status < 300;
  if (success && transfer->request->body_sink) {
    return transfer->request->body_sink(response.status, data, bytes) ? bytes : 0;
  }
  if (success || response.body.size() < kMaxKeptBody) response.body.append(data, bytes);
  return bytes;
}

void ensure_curl_initialised() {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)initialised;
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_case_name) const {
  const auto found = headers.find(lower_case_name);
  return found == headers.end() ? std::string() : found->second;
}

HttpResponse http_send(const HttpRequest& request, const HttpTimeouts& timeouts) {
  ensure_curl_initialised();
  HttpResponse response;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    response.transport_error = CURLE_FAILED_INIT;
    response.transport_message = "libcurl could not start a transfer";
    return response;
  }
  Transfer transfer{&request, &response};
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, curl_slist_free_all);
  const auto add_header = [&headers](const std::string& header) {
    headers.reset(curl_slist_append(headers.release(), header.c_str()));
  };
  // Compressed transfers would make Content-Length differ from the file size we verify.
  add_header("Accept-Encoding: identity");
  if (!request.bearer_token.empty()) add_header("Authorization: Bearer " + request.bearer_token);
  const std::string range = std::to_string(request.range_start) + "-";

  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "graft/0.1");
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_NOBODY, request.head_only ? 1L : 0L);
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(handle, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, timeouts.connect_s);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, timeouts.low_speed_s);
  if (request.range_start > 0) curl_easy_setopt(handle, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);

  const CURLcode code = curl_easy_perform(handle);
  if (code != CURLE_OK) {
    response.transport_error = code;
    response.transport_message = curl_easy_strerror(code);
    response.could_not_connect =
        code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY;
  }
  return response;
}

std::string url_encode(const std::string& text, bool keep_slashes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slashes && c == '/')) {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 0xf];
    }
  }
  return encoded;
}

std::string url_origin(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return {};
  const std::string scheme = lower(url.substr(0, scheme_end));
  const auto host_start = scheme_end + 3;
  const auto host_end = url.find_first_of("/?#", host_start);
  std::string authority =
      lower(url.substr(host_start, host_end == std::string::npos ? std::string::npos : host_end - host_start));
  if (const auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  const auto bracket = authority.rfind(']');  // an IPv6 literal holds colons of its own
  const bool has_port = authority.find(':', bracket == std::string::npos ? 0 : bracket) != std::string::npos;
  if (!has_port) authority += scheme == "https" ? ":443" : ":80";
  return scheme + "://" + authority;
}

}  // namespace graft::hub_detail
