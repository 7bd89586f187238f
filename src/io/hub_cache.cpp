#include <unistd.h>

#include <fstream>
#include <system_error>

#include "graft/core/error.h"
#include "io/hub_internal.h"

namespace graft::hub_detail {
namespace fs = std::filesystem;

namespace {

bool is_lower_hex(const std::string& text, size_t length) {
  return text.size() == length && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Write-then-rename, so a reader never sees a half-written ref or link.
fs::path temporary_sibling(const fs::path& target) {
  return fs::path(target.string() + ".tmp." + std::to_string(::getpid()));
}

}  // namespace

bool is_commit_sha(const std::string& text) {
  return is_lower_hex(text, 40);
}
bool is_sha256(const std::string& text) {
  return is_lower_hex(text, 64);
}

RepoCache::RepoCache(const std::string& cache_root, const std::string& repo_id) {
  std::string folder = "models--" + repo_id;
  for (size_t slash = folder.find('/'); slash != std::string::npos; slash = folder.find('/', slash)) {
    folder.replace(slash, 1, "--");
  }
  root_ = (fs::absolute(cache_root) / folder).lexically_normal();
}

fs::path RepoCache::blob(const std::string& etag) const {
  return root_ / "blobs" / etag;
}

fs::path RepoCache::incomplete_blob(const std::string& etag) const {
  return root_ / "blobs" / (etag + ".incomplete");
}

fs::path RepoCache::snapshot_dir(const std::string& commit) const {
  return root_ / "snapshots" / commit;
}

fs::path RepoCache::snapshot_file(const std::string& commit, const std::string& filename) const {
  return snapshot_dir(commit) / filename;
}

std::optional<std::string> RepoCache::read_ref(const std::string& revision) const {
  std::ifstream in(root_ / "refs" / revision);
  std::string commit;
  if (!in || !std::getline(in, commit)) return std::nullopt;
  return commit;
}

void RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
  const fs::path ref = root_ / "refs" / revision;
  fs::create_directories(ref.parent_path());
  const fs::path temporary = temporary_sibling(ref);
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << commit;  // no newline, as huggingface_hub writes it
    check(out.good(), "hub", "cannot write " + temporary.string());
  }
  fs::rename(temporary, ref);
}

void RepoCache::link_snapshot_file(const std::string& commit, const std::string& filename,
                                   const std::string& etag) const {
  const fs::path link = snapshot_file(commit, filename);
  fs::create_directories(link.parent_path());
  const fs::path temporary = temporary_sibling(link);
  std::error_code ignored;
  fs::remove(temporary, ignored);
  fs::create_symlink(blob(etag).lexically_relative(link.parent_path()), temporary);
  fs::rename(temporary, link);
}

}  // namespace graft::hub_detail
