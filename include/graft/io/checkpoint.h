#pragma once
// The weights of a model folder as Hugging Face lays it out: model.safetensors, or shards
// model-00001-of-0000N.safetensors listed by model.safetensors.index.json ("weight_map": name -> file).
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graft/io/safetensors.h"

namespace graft {

class Checkpoint {
 public:
  // `path` is a model folder, or a single .safetensors file. A folder with both a single file and an
  // index is read from the single file, as transformers does.
  static Checkpoint open(const std::string& path);

  const std::string& path() const { return path_; }
  bool sharded() const { return has_index_; }
  // Sorted by name.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return location_.count(name) != 0; }
  SafetensorsFile::Info info(const std::string& name) const;
  Tensor view(const std::string& name) const;
  // graft::Error naming the file and tensor when an F32 result holds a NaN or an infinity.
  Tensor load(const std::string& name, DType as = DType::F32) const;

 private:
  const SafetensorsFile& file_of(const std::string& name) const;

  std::string path_;
  bool has_index_ = false;
  std::map<std::string, SafetensorsFile> shards_;    // by file name, each opened once
  std::map<std::string, const SafetensorsFile*> location_;  // tensor name -> its shard
};

// Writes model.safetensors, or, when max_shard_bytes > 0 and the tensors do not fit in one shard,
// model-0000i-of-0000N.safetensors plus model.safetensors.index.json ({"metadata": {"total_size"},
// "weight_map"}), filling shards in the given order as transformers does (a tensor larger than the
// limit gets a shard of its own). Weight files of an earlier save in `dir` that the new one does not
// use are removed afterwards, so the folder never mixes two saves. Creates `dir` when missing.
void save_checkpoint(const std::string& dir, const std::vector<std::pair<std::string, Tensor>>& tensors,
                     size_t max_shard_bytes = 0);

}  // namespace graft
