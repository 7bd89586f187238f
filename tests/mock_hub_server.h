#pragma once
// A stand-in for the Hugging Face Hub on 127.0.0.1, for tests that must never leave the machine.
// It serves, from in-memory repos:
//   GET  /api/models/{repo}/revision/{rev}    {"sha", "siblings": [{"rfilename"}]}
//   HEAD|GET /{repo}/resolve/{rev}/{file}     small files inline (ETag W/"<git id>"); *.safetensors
//                                             as a 302 to /cdn/<sha256> with X-Linked-Etag/-Size
//   GET  /cdn/<sha256>                        the LFS content, honouring "Range: bytes=N-" with 206
// Private repos answer 401 unless "Authorization: Bearer <token>" matches. Faults on demand: cut
// the first CDN transfer of each file halfway, or serve LFS content with one byte flipped.
// One connection at a time, "Connection: close" on every answer; the accept loop polls a stop
// flag so the destructor always returns promptly.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "io/sha256.h"

namespace graft::test {

struct MockCommit {
  std::string sha;                           // 40 hex digits
  std::map<std::string, std::string> files;  // file name -> content
};

struct MockRepo {
  std::string id;                          // "org/name"
  std::map<std::string, MockCommit> refs;  // "main", tags... -> commit
  bool is_private = false;
};

struct MockRequest {
  std::string method;
  std::string path;
  std::string authorization;
  std::string range;
};

struct MockHubOptions {
  std::string token;                   // the Bearer token that opens private repos
  bool cut_first_transfer = false;     // first /cdn GET of each blob sends half, then hangs up
  bool corrupt_lfs = false;            // /cdn serves the content with its first byte changed
  std::string cdn_host = "127.0.0.1";  // "localhost" makes the CDN another host for the client
};

class MockHubServer {
 public:
  explicit MockHubServer(std::vector<MockRepo> repos, MockHubOptions options = {})
      : repos_(std::move(repos)), options_(std::move(options)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error("mock hub: socket() failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // ephemeral
    socklen_t length = sizeof(address);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("mock hub: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~MockHubServer() {
    stopping_ = true;
    thread_.join();
    ::close(listen_fd_);
  }

  MockHubServer(const MockHubServer&) = delete;
  MockHubServer& operator=(const MockHubServer&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<MockRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

  size_t count_requests(const std::string& path_fragment) const {
    size_t count = 0;
    for (const auto& request : requests()) count += request.path.find(path_fragment) != std::string::npos;
    return count;
  }

  static bool is_lfs(const std::string& filename) {
    return filename.size() > 12 && filename.compare(filename.size() - 12, 12, ".safetensors") == 0;
  }

  // Stands in for the git blob id the real Hub sends as the ETag of small files.
  static std::string git_id(const std::string& content) { return sha256_hex("blob " + content).substr(0, 40); }

 private:
  static constexpr int kPollMilliseconds = 50;
  static constexpr size_t kMaxConnections = 10000;
  static constexpr size_t kMaxRequestBytes = 64 * 1024;

  struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool omit_body = false;                // HEAD
    size_t cut_after = std::string::npos;  // hang up after this many body bytes
  };

  void serve() {
    for (size_t served = 0; !stopping_ && served < kMaxConnections;) {
      pollfd waiting{listen_fd_, POLLIN, 0};
      if (::poll(&waiting, 1, kPollMilliseconds) <= 0) continue;
      const int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      ++served;
      timeval timeout{5, 0};
      ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
      handle_connection(client);
      ::close(client);
    }
  }

  void handle_connection(int client) {
    std::string raw;
    char buffer[4096];
    while (raw.find("\r\n\r\n") == std::string::npos && raw.size() < kMaxRequestBytes) {
      const ssize_t received = ::recv(client, buffer, sizeof(buffer), 0);
      if (received <= 0) return;
      raw.append(buffer, static_cast<size_t>(received));
    }
    const MockRequest request = parse_request(raw);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(request);
    }
    send_response(client, route(request));
  }

  static MockRequest parse_request(const std::string& raw) {
    MockRequest request;
    const auto line_end = raw.find("\r\n");
    const std::string first_line = raw.substr(0, line_end);
    const auto first_space = first_line.find(' ');
    const auto second_space = first_line.find(' ', first_space + 1);
    request.method = first_line.substr(0, first_space);
    request.path = first_line.substr(first_space + 1, second_space - first_space - 1);
    for (size_t start = line_end + 2; start < raw.size();) {
      const auto end = raw.find("\r\n", start);
      if (end == std::string::npos || end == start) break;
      const std::string line = raw.substr(start, end - start);
      const auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string value = colon == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', colon + 1));
      if (name == "authorization") request.authorization = value;
      if (name == "range") request.range = value;
      start = end + 2;
    }
    return request;
  }

  static std::string url_decode(const std::string& text) {
    std::string decoded;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size()) {
        decoded += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        decoded += text[i];
      }
    }
    return decoded;
  }

  static Response error(int status, const std::string& error_code) {
    Response response;
    response.status = status;
    response.headers.emplace_back("X-Error-Code", error_code);
    response.body = R"({"error":")" + error_code + R"("})";
    return response;
  }

  const MockRepo* find_repo(const std::string& id) const {
    for (const auto& repo : repos_) {
      if (repo.id == id) return &repo;
    }
    return nullptr;
  }

  static const MockCommit* find_commit(const MockRepo& repo, const std::string& revision) {
    if (const auto ref = repo.refs.find(revision); ref != repo.refs.end()) return &ref->second;
    for (const auto& [name, commit] : repo.refs) {
      if (commit.sha == revision) return &commit;
    }
    return nullptr;
  }

  bool authorized(const MockRepo& repo, const MockRequest& request) const {
    return !repo.is_private || (!options_.token.empty() && request.authorization == "Bearer " + options_.token);
  }

  Response route(const MockRequest& request) {
    Response response;
    const std::string api_prefix = "/api/models/";
    if (request.path.rfind("/cdn/", 0) == 0) {
      response = serve_cdn(request);
    } else if (request.path.rfind(api_prefix, 0) == 0) {
      response = serve_revision(request.path.substr(api_prefix.size()), request);
    } else {
      response = serve_resolve(request);
    }
    response.omit_body = request.method == "HEAD";
    return response;
  }

  Response serve_revision(const std::string& rest, const MockRequest& request) const {
    const auto marker = rest.find("/revision/");
    if (marker == std::string::npos) return error(404, "RepoNotFound");
    const MockRepo* repo = find_repo(rest.substr(0, marker));
    if (!repo) return error(404, "RepoNotFound");
    if (!authorized(*repo, request)) return error(401, "RepoNotFound");
    const MockCommit* commit = find_commit(*repo, url_decode(rest.substr(marker + 10)));
    if (!commit) return error(404, "RevisionNotFound");
    nlohmann::json siblings = nlohmann::json::array();
    for (const auto& [name, content] : commit->files) siblings.push_back({{"rfilename", name}});
    Response response;
    response.headers.emplace_back("Content-Type", "application/json");
    response.body = nlohmann::json{{"id", repo->id}, {"sha", commit->sha}, {"siblings", siblings}}.dump();
    return response;
  }

  Response serve_resolve(const MockRequest& request) const {
    const auto marker = request.path.find("/resolve/");
    if (marker == std::string::npos) return error(404, "RepoNotFound");
    const MockRepo* repo = find_repo(request.path.substr(1, marker - 1));
    if (!repo) return error(404, "RepoNotFound");
    if (!authorized(*repo, request)) return error(401, "RepoNotFound");
    const std::string rest = request.path.substr(marker + 9);
    const auto slash = rest.find('/');
    const MockCommit* commit =
        slash == std::string::npos ? nullptr : find_commit(*repo, url_decode(rest.substr(0, slash)));
    if (!commit) return error(404, "RevisionNotFound");
    const std::string filename = url_decode(rest.substr(slash + 1));
    const auto file = commit->files.find(filename);
    if (file == commit->files.end()) return error(404, "EntryNotFound");

    Response response;
    response.headers.emplace_back("X-Repo-Commit", commit->sha);
    if (is_lfs(filename)) {
      const std::string sha256 = sha256_hex(file->second);
      response.status = 302;
      response.headers.emplace_back("Location",
                                    "http://" + options_.cdn_host + ":" + std::to_string(port_) + "/cdn/" + sha256);
      response.headers.emplace_back("ETag", "\"" + git_id("pointer " + sha256) + "\"");
      response.headers.emplace_back("X-Linked-Etag", "\"" + sha256 + "\"");
      response.headers.emplace_back("X-Linked-Size", std::to_string(file->second.size()));
    } else {
      response.headers.emplace_back("ETag", "W/\"" + git_id(file->second) + "\"");
      response.body = file->second;
    }
    return response;
  }

  Response serve_cdn(const MockRequest& request) {
    const std::string sha256 = request.path.substr(5);
    const std::string* content = nullptr;
    for (const auto& repo : repos_) {
      for (const auto& [name, commit] : repo.refs) {
        for (const auto& [filename, data] : commit.files) {
          if (is_lfs(filename) && sha256_hex(data) == sha256) content = &data;
        }
      }
    }
    if (!content) return error(404, "EntryNotFound");
    std::string served = *content;
    if (options_.corrupt_lfs && !served.empty()) served[0] = static_cast<char>(served[0] ^ 0x5a);

    Response response;
    response.headers.emplace_back("ETag", "\"cdn-" + sha256.substr(0, 16) + "\"");
    size_t start = 0;
    if (request.range.rfind("bytes=", 0) == 0) start = std::stoull(request.range.substr(6));
    if (start >= served.size() && !served.empty()) return error(416, "RangeNotSatisfiable");
    if (start > 0) {
      response.status = 206;
      response.headers.emplace_back("Content-Range", "bytes " + std::to_string(start) + "-" +
                                                         std::to_string(served.size() - 1) + "/" +
                                                         std::to_string(served.size()));
    }
    response.body = served.substr(start);
    if (options_.cut_first_transfer && cut_already_.insert(sha256).second)
      response.cut_after = response.body.size() / 2;
    return response;
  }

  static const char* reason(int status) {
    switch (status) {
      case 200: return "OK";
      case 206: return "Partial Content";
      case 302: return "Found";
      case 401: return "Unauthorized";
      case 404: return "Not Found";
      case 416: return "Range Not Satisfiable";
      default: return "Other";
    }
  }

  static void send_all(int client, const char* data, size_t size) {
    while (size > 0) {
      const ssize_t sent = ::send(client, data, size, MSG_NOSIGNAL);
      if (sent <= 0) return;
      data += sent;
      size -= static_cast<size_t>(sent);
    }
  }

  static void send_response(int client, const Response& response) {
    std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) + "\r\n";
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    head += "Content-Length: " + std::to_string(response.body.size()) + "\r\nConnection: close\r\n\r\n";
    send_all(client, head.data(), head.size());
    if (response.omit_body) return;
    send_all(client, response.body.data(), std::min(response.body.size(), response.cut_after));
    if (response.cut_after != std::string::npos) ::shutdown(client, SHUT_RDWR);
  }

  std::vector<MockRepo> repos_;
  MockHubOptions options_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<MockRequest> requests_;
  std::set<std::string> cut_already_;
};

}  // namespace graft::test
