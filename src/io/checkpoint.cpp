#include "graft/io/checkpoint.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "graft/core/error.h"
#include "graft/io/file.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// A shard name from an index must stay inside the model folder.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

std::string missing_weights_message(const std::string& dir) {
  std::string message = dir + ": no " + kSingleFile + " or " + kIndexFile;
  if (fs::exists(fs::path(dir) / "pytorch_model.bin") || fs::exists(fs::path(dir) / "pytorch_model.bin.index.json")) {
    message +=
        " (pytorch_model.bin is not supported: convert it with python -c \"from transformers import "
        "AutoModel; AutoModel.from_pretrained('" +
        dir + "').save_pretrained('" + dir + "', safe_serialization=True)\")";
  }
  return message;
}

std::string shard_name(size_t index, size_t count) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", index, count);
  return name;
}

// model.safetensors, its index, or a shard name as shard_name() writes it.
bool is_weight_file_name(const std::string& name) {
  if (name == kSingleFile || name == kIndexFile) return true;
  const std::string pattern = "model-#####-of-#####.safetensors";
  if (name.size() != pattern.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const bool matches =
        pattern[i] == '#' ? std::isdigit(static_cast<unsigned char>(name[i])) != 0 : name[i] == pattern[i];
    if (!matches) return false;
  }
  return true;
}

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

std::vector<NamedTensors> split_into_shards(const std::string& dir, const NamedTensors& tensors,
                                            size_t max_shard_bytes) {
  std::vector<NamedTensors> shards(1);
  std::set<std::string> seen;
  size_t current_bytes = 0;
  for (const auto& item : tensors) {
    check(seen.insert(item.first).second, "checkpoint", dir + ": duplicate tensor name '" + item.first + "'");
    const size_t bytes = item.second.nbytes();
    if (max_shard_bytes > 0 && !shards.back().empty() && current_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      current_bytes = 0;
    }
    shards.back().push_back(item);
    current_bytes += bytes;
  }
  return shards;
}

void remove_stale_weight_files(const std::string& dir, const std::set<std::string>& written) {
  for (const auto& item : fs::directory_iterator(dir)) {
    const std::string name = item.path().filename().string();
    if (item.is_regular_file() && is_weight_file_name(name) && written.count(name) == 0) {
      std::error_code ignored;
      fs::remove(item.path(), ignored);
    }
  }
}

}  // namespace

Checkpoint Checkpoint::open(const std::string& path) {
  Checkpoint checkpoint;
  checkpoint.path_ = path;
  check(fs::exists(path), "checkpoint", path + ": no such folder");
  if (fs::is_regular_file(path)) {
    checkpoint.shards_.emplace(fs::path(path).filename().string(), SafetensorsFile::open(path));
  } else if (fs::exists(fs::path(path) / kSingleFile)) {
    checkpoint.shards_.emplace(kSingleFile, SafetensorsFile::open((fs::path(path) / kSingleFile).string()));
  } else {
    const std::string index_path = (fs::path(path) / kIndexFile).string();
    check(fs::exists(index_path), "checkpoint", missing_weights_message(path));
    checkpoint.has_index_ = true;
    const nlohmann::json index = read_json_file(index_path);
    check(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(), "checkpoint",
          index_path + ": missing \"weight_map\" object");
    std::map<std::string, std::string> shard_of;
    for (const auto& [name, file] : index["weight_map"].items()) {
      check(file.is_string() && is_plain_file_name(file.get<std::string>()), "checkpoint",
            index_path + ": weight_map entry of '" + name + "' must be a file name in the same folder");
      shard_of[name] = file.get<std::string>();
    }
    for (const auto& [name, file] : shard_of) {
      if (checkpoint.shards_.count(file) != 0) continue;
      const std::string shard_path = (fs::path(path) / file).string();
      check(fs::exists(shard_path), "checkpoint",
            index_path + ": shard " + file + " (holding '" + name + "') is missing");
      checkpoint.shards_.emplace(file, SafetensorsFile::open(shard_path));
    }
    for (const auto& [name, file] : shard_of) {
      const SafetensorsFile& shard = checkpoint.shards_.at(file);
      check(shard.contains(name), "checkpoint",
            index_path + ": tensor '" + name + "' is listed in " + file + " but that shard does not hold it");
      checkpoint.location_[name] = &shard;
    }
    return checkpoint;
  }
  const SafetensorsFile& single = checkpoint.shards_.begin()->second;
  for (const std::string& name : single.names()) checkpoint.location_[name] = &single;
  return checkpoint;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> result;
  result.reserve(location_.size());
  for (const auto& [name, unused] : location_) result.push_back(name);
  return result;
}

const SafetensorsFile& Checkpoint::file_of(const std::string& name) const {
  const auto found = location_.find(name);
  if (found == location_.end()) throw Error("[checkpoint] " + path_ + ": tensor '" + name + "' not found");
  return *found->second;
}

SafetensorsFile::Info Checkpoint::info(const std::string& name) const {
  return file_of(name).info(name);
}
Tensor Checkpoint::view(const std::string& name) const {
  return file_of(name).view(name);
}
// A NaN or infinite weight turns every answer into nan (a pipeline would print it as a score); refused when the
// tensor is read, which costs one pass over memory the load has just touched.
Tensor Checkpoint::load(const std::string& name, DType as) const {
  const SafetensorsFile& file = file_of(name);
  Tensor tensor = file.load(name, as);
  if (tensor.dtype() == DType::F32) {
    if (const auto bad = first_non_finite(tensor)) {
      throw Error("[checkpoint] " + file.path() + ": tensor '" + name + "' holds a non-finite value (" + bad->spelling +
                  " at element " + std::to_string(bad->index) + " of " + shape_string(tensor.shape()) + ")");
    }
  }
  return tensor;
}

void save_checkpoint(const std::string& dir, const NamedTensors& tensors, size_t max_shard_bytes) {
  std::error_code error;
  fs::create_directories(dir, error);
  check(fs::is_directory(dir), "checkpoint", dir + ": cannot create folder: " + error.message());

  const auto shards = split_into_shards(dir, tensors, max_shard_bytes);
  std::set<std::string> written;
  if (shards.size() == 1) {
    save_safetensors((fs::path(dir) / kSingleFile).string(), tensors);
    written.insert(kSingleFile);
  } else {
    nlohmann::json weight_map = nlohmann::json::object();
    size_t total_size = 0;
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string file = shard_name(i + 1, shards.size());
      save_safetensors((fs::path(dir) / file).string(), shards[i]);
      written.insert(file);
      for (const auto& [name, tensor] : shards[i]) {
        weight_map[name] = file;
        total_size += tensor.nbytes();
      }
    }
    const nlohmann::json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
    write_json_file_atomically((fs::path(dir) / kIndexFile).string(), index);
    written.insert(kIndexFile);
  }
  remove_stale_weight_files(dir, written);
}

}  // namespace graft
