// One file of one commit: ask the Hub where it lives (HEAD), reuse the blob when the cache has it,
// otherwise download it into blobs/<etag>.incomplete, resuming across dropped connections, and
// verify it before it becomes visible in the snapshot.
#include <chrono>
#include <cstdio>
#include <memory>
#include <system_error>
#include <thread>

#include "graft/core/error.h"
#include "io/hub_http.h"
#include "io/hub_internal.h"
#include "io/sha256.h"

namespace graft::hub_detail {
namespace fs = std::filesystem;

namespace {

constexpr int kMaxRelativeRedirects = 5;
constexpr int kStatusNotFound = 404;
constexpr int kStatusRangeNotSatisfiable = 416;

struct FileLocation {
  std::string download_url;
  std::string etag;
  std::optional<uint64_t> size;
};

HttpTimeouts timeouts_of(const HubOptions& options) {
  return {options.connect_timeout_s, options.low_speed_timeout_s};
}

std::optional<uint64_t> parse_size(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(text);
}

// ETags arrive as "abc", W/"abc" or abc; the blob is named by the bare value.
std::string normalize_etag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag.erase(0, 2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

bool is_safe_blob_name(const std::string& etag) {
  return !etag.empty() && etag.front() != '.' &&
         etag.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
             std::string::npos;
}

std::string resolve_url(const HubSession& session, const std::string& filename) {
  return session.options.endpoint + "/" + session.repo.id + "/resolve/" + url_encode(session.commit, false) + "/" +
         url_encode(filename, true);
}

[[noreturn]] void fail_http_status(const HubSession& session, long status, const std::string& filename,
                                   const std::string& url) {
  session.fail("HTTP " + std::to_string(status) + " for " + filename + " from " + url);
}

// Relative redirects (a renamed repo) stay on the Hub and are followed; an absolute one leads to
// the CDN holding an LFS file, and its first response carries the X-Linked-* metadata we need.
std::optional<FileLocation> locate_file(const HubSession& session, const std::string& filename, bool required) {
  std::string url = resolve_url(session, filename);
  for (int hop = 0; hop <= kMaxRelativeRedirects; ++hop) {
    HttpRequest request;
    request.url = url;
    request.head_only = true;
    request.bearer_token = session.options.token;
    const HttpResponse response = http_send(request, timeouts_of(session.options));
    if (response.transport_error != 0) session.fail_unreachable(response.transport_message);
    if (response.status == 401 || response.status == 403) session.fail_unauthorized(response.status, filename);
    if (response.status == kStatusNotFound) {
      if (!required) return std::nullopt;
      session.fail("file " + filename + " not found at revision " + session.repo.revision);
    }
    const std::string location = response.header("location");
    const bool redirected = response.status >= 300 && response.status < 400 && !location.empty();
    if (redirected && location.front() == '/') {
      url = session.options.endpoint + location;
      continue;
    }
    if (!redirected && (response.status < 200 || response.status >= 300)) {
      fail_http_status(session, response.status, filename, url);
    }
    FileLocation found;
    found.download_url = redirected ? location : url;
    const std::string linked_etag = response.header("x-linked-etag");
    found.etag = normalize_etag(linked_etag.empty() ? response.header("etag") : linked_etag);
    const std::string linked_size = response.header("x-linked-size");
    found.size = parse_size(linked_size.empty() ? response.header("content-length") : linked_size);
    if (!is_safe_blob_name(found.etag)) {
      session.fail("the Hub sent no usable ETag for " + filename + " ('" + found.etag + "'); cannot cache it");
    }
    return found;
  }
  session.fail("more than " + std::to_string(kMaxRelativeRedirects) + " redirects for " + filename);
}

uint64_t size_on_disk(const fs::path& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  return error ? 0 : size;
}

// Appends to the .incomplete file; a 200 to a ranged request means the server ignored the range,
// so the file starts over.
class BlobWriter {
 public:
  BlobWriter(fs::path path, uint64_t offset) : path_(std::move(path)), offset_(offset) {}

  bool write(long status, const char* data, size_t size) {
    if (!file_) {
      const bool restart = status == 200 && offset_ > 0;
      file_.reset(std::fopen(path_.c_str(), restart ? "wb" : "ab"));
      if (!file_) return false;
    }
    return std::fwrite(data, 1, size, file_.get()) == size;
  }

  bool close() { return !file_ || std::fclose(file_.release()) == 0; }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  fs::path path_;
  uint64_t offset_;
  std::unique_ptr<std::FILE, FileCloser> file_;
};

bool content_range_starts_at(const std::string& content_range, uint64_t offset) {
  return content_range.rfind("bytes " + std::to_string(offset) + "-", 0) == 0;
}

std::string describe_size(uint64_t bytes) {
  char text[32];
  if (bytes >= (1u << 20)) {
    std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(text, sizeof(text), "%llu bytes", static_cast<unsigned long long>(bytes));
  }
  return text;
}

// Returns once the .incomplete file holds the whole body, retrying interrupted transfers from the
// bytes already on disk.
void download_incomplete(const HubSession& session, const std::string& filename, const FileLocation& file,
                         const fs::path& incomplete) {
  const bool same_host = url_origin(file.download_url) == url_origin(session.options.endpoint);
  std::string last_failure;
  for (int attempt = 1; attempt <= session.options.max_attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    uint64_t offset = size_on_disk(incomplete);
    if (file.size && offset > *file.size) {
      fs::remove(incomplete);
      offset = 0;
    }
    if (file.size && offset == *file.size && offset > 0) return;
    session.log(offset > 0 ? "resuming " + filename + " at byte " + std::to_string(offset)
                           : "downloading " + filename + (file.size ? " (" + describe_size(*file.size) + ")" : ""));

    BlobWriter writer(incomplete, offset);
    HttpRequest request;
    request.url = file.download_url;
    request.bearer_token = same_host ? session.options.token : std::string();
    request.range_start = offset;
    request.follow_redirects = true;
    request.body_sink = [&writer](long status, const char* data, size_t size) {
      return writer.write(status, data, size);
    };
    const HttpResponse response = http_send(request, timeouts_of(session.options));
    const bool closed = writer.close();

    if (response.status == 401 || response.status == 403) session.fail_unauthorized(response.status, filename);
    if (response.status == kStatusNotFound)
      session.fail("file " + filename + " not found at revision " + session.repo.revision);
    if (response.status == kStatusRangeNotSatisfiable) {
      last_failure = "the server refused to resume at byte " + std::to_string(offset);
      fs::remove(incomplete);
      continue;
    }
    if (response.transport_error != 0 || !closed) {
      last_failure = closed ? response.transport_message : "cannot write " + incomplete.string();
      continue;
    }
    if (response.status == 206 && !content_range_starts_at(response.header("content-range"), offset)) {
      last_failure = "the server answered a resume at byte " + std::to_string(offset) + " with Content-Range '" +
                     response.header("content-range") + "'";
      fs::remove(incomplete);
      continue;
    }
    if (response.status == 200 || response.status == 206) return;
    last_failure = "HTTP " + std::to_string(response.status);
  }
  session.fail("download of " + filename + " failed after " + std::to_string(session.options.max_attempts) +
               " attempts: " + last_failure);
}

// A wrong file is removed rather than kept for resuming: appending to it could never fix it.
void verify_incomplete(const HubSession& session, const std::string& filename, const FileLocation& file,
                       const fs::path& incomplete) {
  const uint64_t actual_size = size_on_disk(incomplete);
  if (file.size && actual_size != *file.size) {
    fs::remove(incomplete);
    session.fail("size mismatch for " + filename + ": expected " + std::to_string(*file.size) + " bytes, got " +
                 std::to_string(actual_size) + "; the download was discarded");
  }
  if (!is_sha256(file.etag)) return;  // a git blob id, not a content hash we can check
  const std::string actual_sha = sha256_file_hex(incomplete.string());
  if (actual_sha != file.etag) {
    fs::remove(incomplete);
    session.fail("sha256 mismatch for " + filename + ": expected " + file.etag + ", got " + actual_sha +
                 "; the download was discarded");
  }
}

}  // namespace

FetchOutcome fetch_file(const HubSession& session, const std::string& filename, bool required) {
  if (fs::exists(session.cache.snapshot_file(session.commit, filename))) return FetchOutcome::kCached;
  const auto file = locate_file(session, filename, required);
  if (!file) return FetchOutcome::kMissing;

  const fs::path blob = session.cache.blob(file->etag);
  if (fs::exists(blob) && (!file->size || size_on_disk(blob) == *file->size)) {
    session.cache.link_snapshot_file(session.commit, filename, file->etag);
    return FetchOutcome::kCached;
  }
  fs::create_directories(blob.parent_path());
  const fs::path incomplete = session.cache.incomplete_blob(file->etag);
  download_incomplete(session, filename, *file, incomplete);
  verify_incomplete(session, filename, *file, incomplete);
  fs::rename(incomplete, blob);
  session.cache.link_snapshot_file(session.commit, filename, file->etag);
  return FetchOutcome::kDownloaded;
}

}  // namespace graft::hub_detail
