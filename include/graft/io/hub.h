#pragma once
// Downloads DistilBERT/BERT checkpoints from the Hugging Face Hub into the same cache that
// huggingface_hub uses, so a model fetched by either tool is found by the other:
//   {cache}/models--ORG--NAME/blobs/<etag>               file contents, named by their Hub ETag
//   {cache}/models--ORG--NAME/refs/<revision>            the commit sha the revision pointed to
//   {cache}/models--ORG--NAME/snapshots/<sha>/<filename>  relative symlink to ../../blobs/<etag>
// A blob is written as blobs/<etag>.incomplete, resumed with a Range request when interrupted,
// and checked (size, and sha256 for LFS files) before it is renamed into place and linked, so a
// snapshot folder never holds a partial or corrupt file.
#include <functional>
#include <string>

namespace graft {

struct HubRepo {
  std::string id;                 // "ORG/NAME" (or a legacy "NAME")
  std::string revision = "main";  // branch, tag or commit sha
};

// "ORG/NAME[@REVISION]" -> HubRepo; throws graft::Error on an invalid id.
HubRepo parse_hub_repo(const std::string& text);

struct HubOptions {
  std::string endpoint = "https://huggingface.co";
  std::string token;      // sent as "Authorization: Bearer" to the endpoint's host only
  std::string cache_dir;  // the hub cache root (holding models--ORG--NAME folders)
  bool offline = false;   // resolve from the cache only; no network at all
  long connect_timeout_s = 10;
  long low_speed_timeout_s = 30;                     // abort a transfer that stalls below 1 byte/s for this long
  int max_attempts = 5;                              // per file, counting resumed attempts
  std::function<void(const std::string& line)> log;  // progress lines; may be empty

  // HF_ENDPOINT, HF_TOKEN (else the token file HF_HOME/token), HF_HUB_OFFLINE and the cache
  // root from HF_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub.
  static HubOptions from_environment();
};

// Fetches config.json, the safetensors weights (single file or index + shards), the tokenizer
// files and README.md that the repo has at the revision; returns the snapshot folder.
std::string hub_download_model(const HubRepo& repo, const HubOptions& options);

// An existing local folder is returned as is; anything else is read as ORG/NAME[@REVISION] and
// downloaded (or found in the cache when HF_HUB_OFFLINE is set), with HubOptions::from_environment().
std::string resolve_model_path(const std::string& model_or_dir);

}  // namespace graft
