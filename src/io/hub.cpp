// What a DistilBERT/BERT checkpoint needs from its Hub repo, and where the options come from.
#include "graft/io/hub.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "graft/core/error.h"
#include "io/hub_http.h"
#include "io/hub_internal.h"

namespace graft {
namespace fs = std::filesystem;
using hub_detail::FetchOutcome;
using hub_detail::HubSession;

namespace {

constexpr const char* kConfigFile = "config.json";
constexpr const char* kSingleWeightsFile = "model.safetensors";
constexpr const char* kWeightsIndexFile = "model.safetensors.index.json";
constexpr const char* kOptionalFiles[] = {"tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                          "special_tokens_map.json", "README.md"};
constexpr size_t kMaxRepoNamePart = 96;

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

bool is_truthy(std::string value) {
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::toupper(c); });
  return value == "1" || value == "ON" || value == "YES" || value == "TRUE";
}

bool is_valid_name_part(const std::string& part) {
  return !part.empty() && part.size() <= kMaxRepoNamePart && part.front() != '-' && part.front() != '.' &&
         part.find("--") == std::string::npos && part.find("..") == std::string::npos &&
         part.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
             std::string::npos;
}

// The revision becomes a path under refs/, so it may not climb out of it.
bool is_valid_revision(const std::string& revision) {
  if (revision.empty() || revision.front() == '/' || revision.back() == '/') return false;
  if (std::any_of(revision.begin(), revision.end(),
                  [](unsigned char c) { return c <= ' ' || c == 0x7f || c == '\\'; })) {
    return false;
  }
  for (const auto& segment : fs::path(revision)) {
    if (segment == ".." || segment == "." || segment.empty()) return false;
  }
  return true;
}

// A shard named in an index must be a plain file name next to the index.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name.find('\\') == std::string::npos && name != "." &&
         name != "..";
}

std::string default_cache_root() {
  if (auto cache = environment("HF_HUB_CACHE"); !cache.empty()) return cache;
  if (auto home = environment("HF_HOME"); !home.empty()) return home + "/hub";
  if (auto xdg = environment("XDG_CACHE_HOME"); !xdg.empty()) return xdg + "/huggingface/hub";
  return environment("HOME") + "/.cache/huggingface/hub";
}

// `huggingface-cli login` stores the token in HF_HOME/token.
std::string stored_token() {
  const auto home = environment("HF_HOME");
  const auto xdg = environment("XDG_CACHE_HOME");
  const std::string hf_home = !home.empty()  ? home
                              : !xdg.empty() ? xdg + "/huggingface"
                                             : environment("HOME") + "/.cache/huggingface";
  std::ifstream in(hf_home + "/token");
  std::string token;
  std::getline(in, token);
  return token;
}

struct RevisionInfo {
  std::string commit;
  std::optional<std::set<std::string>> files;  // absent when the Hub did not list siblings
};

RevisionInfo fetch_revision_info(const HubSession& session) {
  hub_detail::HttpRequest request;
  request.url = session.options.endpoint + "/api/models/" + session.repo.id + "/revision/" +
                hub_detail::url_encode(session.repo.revision, false);
  request.bearer_token = session.options.token;
  const auto response =
      hub_detail::http_send(request, {session.options.connect_timeout_s, session.options.low_speed_timeout_s});
  const std::string what = "revision " + session.repo.revision;
  if (response.transport_error != 0) session.fail_unreachable(response.transport_message);
  if (response.status == 401 || response.status == 403) session.fail_unauthorized(response.status, what);
  if (response.status == 404) {
    if (response.header("x-error-code") == "RevisionNotFound") session.fail(what + " not found");
    session.fail("repository not found at " + session.options.endpoint + " (if it is private, set HF_TOKEN)");
  }
  if (response.status != 200) session.fail("HTTP " + std::to_string(response.status) + " for " + request.url);

  const auto json = nlohmann::json::parse(response.body, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("sha") || !json["sha"].is_string()) {
    session.fail("unexpected answer for " + what + " from " + request.url + " (no commit sha)");
  }
  RevisionInfo info{json["sha"].get<std::string>(), std::nullopt};
  if (!hub_detail::is_commit_sha(info.commit))
    session.fail("the Hub returned an invalid commit sha '" + info.commit + "'");
  if (json.contains("siblings") && json["siblings"].is_array()) {
    info.files.emplace();
    for (const auto& sibling : json["siblings"]) {
      if (sibling.is_object() && sibling.contains("rfilename") && sibling["rfilename"].is_string()) {
        info.files->insert(sibling["rfilename"].get<std::string>());
      }
    }
  }
  return info;
}

std::vector<std::string> shards_in_index(const HubSession& session, const fs::path& index_path) {
  std::ifstream in(index_path);
  const auto json = nlohmann::json::parse(in, nullptr, false);
  if (json.is_discarded() || !json.contains("weight_map") || !json["weight_map"].is_object()) {
    session.fail(std::string(kWeightsIndexFile) + " has no \"weight_map\" object");
  }
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : json["weight_map"].items()) {
    if (!shard.is_string() || !is_plain_file_name(shard.get<std::string>())) {
      session.fail(std::string(kWeightsIndexFile) + " maps " + tensor + " to an invalid shard name");
    }
    shards.insert(shard.get<std::string>());
  }
  return {shards.begin(), shards.end()};
}

void fetch_weights(const HubSession& session, const RevisionInfo& info) {
  const auto listed = [&info](const std::string& name) { return !info.files || info.files->count(name) > 0; };
  if (listed(kSingleWeightsFile) &&
      hub_detail::fetch_file(session, kSingleWeightsFile, info.files.has_value()) != FetchOutcome::kMissing) {
    return;
  }
  if (!listed(kWeightsIndexFile) ||
      hub_detail::fetch_file(session, kWeightsIndexFile, info.files.has_value()) == FetchOutcome::kMissing) {
    session.fail("no safetensors weights (" + std::string(kSingleWeightsFile) + " or " + kWeightsIndexFile +
                 ") at revision " + session.repo.revision + "; graft reads only safetensors checkpoints");
  }
  for (const auto& shard : shards_in_index(session, session.cache.snapshot_file(session.commit, kWeightsIndexFile))) {
    hub_detail::fetch_file(session, shard, true);
  }
}

// The files a cached snapshot must hold to be usable, when it cannot be completed from the network.
std::optional<std::string> first_missing_file(const HubSession& session) {
  const auto present = [&session](const std::string& name) {
    return fs::exists(session.cache.snapshot_file(session.commit, name));
  };
  if (!present(kConfigFile)) return kConfigFile;
  if (present(kSingleWeightsFile)) return std::nullopt;
  if (!present(kWeightsIndexFile)) return kSingleWeightsFile;
  for (const auto& shard : shards_in_index(session, session.cache.snapshot_file(session.commit, kWeightsIndexFile))) {
    if (!present(shard)) return shard;
  }
  return std::nullopt;
}

std::string resolve_offline(HubSession& session) {
  const auto& revision = session.repo.revision;
  const auto pull_hint = "; run `graft pull " + session.repo.id + "@" + revision + "` with network access first";
  const auto ref = session.cache.read_ref(revision);
  if (ref) {
    session.commit = *ref;
  } else if (hub_detail::is_commit_sha(revision)) {
    session.commit = revision;
  } else {
    session.fail("HF_HUB_OFFLINE is set and revision " + revision + " is not in the cache at " +
                 session.cache.root().string() + pull_hint);
  }
  if (!fs::is_directory(session.cache.snapshot_dir(session.commit))) {
    session.fail("HF_HUB_OFFLINE is set and snapshot " + session.commit + " is not in the cache at " +
                 session.cache.root().string() + pull_hint);
  }
  if (const auto missing = first_missing_file(session)) {
    session.fail("HF_HUB_OFFLINE is set and the cached snapshot " + session.commit + " lacks " + *missing + pull_hint);
  }
  return session.cache.snapshot_dir(session.commit).string();
}

}  // namespace

namespace hub_detail {

void HubSession::log(const std::string& line) const {
  if (options.log) options.log(line);
}

void HubSession::fail(const std::string& message) const {
  throw Error("[hub] " + repo.id + ": " + message);
}

void HubSession::fail_unauthorized(long status, const std::string& what) const {
  const std::string reason = status == 401 ? "401 Unauthorized" : "403 Forbidden";
  const std::string advice =
      options.token.empty()
          ? "the repo is private or gated (or does not exist); set HF_TOKEN to a token that can read it"
          : "the token in HF_TOKEN was refused; check that it is valid and has access (gated repos need their terms "
            "accepted on the Hub)";
  fail(reason + " for " + what + ": " + advice);
}

void HubSession::fail_unreachable(const std::string& transport_message) const {
  fail("cannot reach " + options.endpoint + " (" + transport_message +
       "); check HF_ENDPOINT and the network, or set HF_HUB_OFFLINE=1 to use the cache");
}

}  // namespace hub_detail

HubRepo parse_hub_repo(const std::string& text) {
  HubRepo repo;
  const auto at = text.find('@');
  repo.id = text.substr(0, at);
  if (at != std::string::npos) repo.revision = text.substr(at + 1);
  const auto slash = repo.id.find('/');
  const bool valid_id = slash == std::string::npos ? is_valid_name_part(repo.id)
                                                   : is_valid_name_part(repo.id.substr(0, slash)) &&
                                                         is_valid_name_part(repo.id.substr(slash + 1));
  check(valid_id && is_valid_revision(repo.revision), "hub",
        "'" + text + "' is neither a local folder nor a Hub repo id ORG/NAME[@REVISION]");
  return repo;
}

HubOptions HubOptions::from_environment() {
  HubOptions options;
  if (auto endpoint = environment("HF_ENDPOINT"); !endpoint.empty()) options.endpoint = endpoint;
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  options.token = environment("HF_TOKEN");
  if (options.token.empty()) options.token = stored_token();
  options.cache_dir = default_cache_root();
  options.offline = is_truthy(environment("HF_HUB_OFFLINE"));
  return options;
}

std::string hub_download_model(const HubRepo& repo, const HubOptions& options) {
  HubSession session{repo, options, hub_detail::RepoCache(options.cache_dir, repo.id), {}};
  if (options.offline) return resolve_offline(session);

  const RevisionInfo info = fetch_revision_info(session);
  session.commit = info.commit;
  hub_detail::fetch_file(session, kConfigFile, true);
  fetch_weights(session, info);
  for (const char* optional : kOptionalFiles) {
    if (!info.files || info.files->count(optional) > 0) hub_detail::fetch_file(session, optional, false);
  }
  if (repo.revision != session.commit) session.cache.write_ref(repo.revision, session.commit);
  return session.cache.snapshot_dir(session.commit).string();
}

std::string resolve_model_path(const std::string& model_or_dir) {
  if (fs::is_directory(model_or_dir)) return model_or_dir;
  HubOptions options = HubOptions::from_environment();
  // Progress lines help on a terminal but would pollute captured output.
  if (::isatty(STDERR_FILENO)) options.log = [](const std::string& line) { std::cerr << "[hub] " << line << '\n'; };
  return hub_download_model(parse_hub_repo(model_or_dir), options);
}

}  // namespace graft
