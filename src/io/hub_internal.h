#pragma once
// Pieces of the Hub client shared by hub.cpp (what to fetch), hub_cache.cpp (where it lives on
// disk) and hub_fetch.cpp (how one file is downloaded and verified).
#include <filesystem>
#include <optional>
#include <string>

#include "graft/io/hub.h"

namespace graft::hub_detail {

bool is_commit_sha(const std::string& text);  // 40 lower-case hex digits
bool is_sha256(const std::string& text);      // 64 lower-case hex digits

// The models--ORG--NAME folder of one repo in the hub cache.
class RepoCache {
 public:
  RepoCache(const std::string& cache_root, const std::string& repo_id);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path blob(const std::string& etag) const;
  std::filesystem::path incomplete_blob(const std::string& etag) const;
  std::filesystem::path snapshot_dir(const std::string& commit) const;
  std::filesystem::path snapshot_file(const std::string& commit, const std::string& filename) const;

  std::optional<std::string> read_ref(const std::string& revision) const;
  void write_ref(const std::string& revision, const std::string& commit) const;
  // Points snapshots/<commit>/<filename> at blobs/<etag> with a relative symlink.
  void link_snapshot_file(const std::string& commit, const std::string& filename, const std::string& etag) const;

 private:
  std::filesystem::path root_;
};

// One hub_download_model call: the repo, its resolved commit, and how to report.
struct HubSession {
  const HubRepo& repo;
  const HubOptions& options;
  RepoCache cache;
  std::string commit;  // the sha the revision resolved to

  void log(const std::string& line) const;
  [[noreturn]] void fail(const std::string& message) const;  // "[hub] ORG/NAME: message"
  // Explains a 401/403 for `what` ("config.json", "revision main").
  [[noreturn]] void fail_unauthorized(long status, const std::string& what) const;
  [[noreturn]] void fail_unreachable(const std::string& transport_message) const;
};

enum class FetchOutcome { kDownloaded, kCached, kMissing };

// Brings `filename` of the session's commit into the snapshot. kMissing only when the Hub says
// 404 and the file is optional; a required file's 404 throws.
FetchOutcome fetch_file(const HubSession& session, const std::string& filename, bool required);

}  // namespace graft::hub_detail
