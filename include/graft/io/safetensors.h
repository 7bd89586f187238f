#pragma once
// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end)}, with
// an optional "__metadata__" map of strings}), then the tensor data; offsets count from the end of
// the header. Files are memory-mapped and every header entry is validated on open, so a corrupt or
// truncated file is reported with its name instead of being read out of bounds.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graft/core/tensor.h"

namespace graft {

class SafetensorsFile {
 public:
  struct Info {
    DType dtype;
    Shape shape;
  };

  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  // In the order of their data in the file.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  Info info(const std::string& name) const;
  // Zero-copy, read-only view into the mapping (which the tensor keeps alive). A tensor whose data is
  // not aligned to its element size (never the case in files written by safetensors or graft) is
  // copied instead, since it cannot be read in place.
  Tensor view(const std::string& name) const;
  // A converted copy in fresh, aligned memory: floating types to F32/F16/BF16, integer types to
  // I64/I32/U8 or F32. Floating data is never silently truncated to integers.
  Tensor load(const std::string& name, DType as = DType::F32) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Entry {
    Info info;
    size_t begin = 0;  // offset into the data area
    size_t end = 0;
  };

  const Entry& entry(const std::string& name) const;

  std::string path_;
  std::shared_ptr<const void> mapping_;
  const char* data_area_ = nullptr;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes the tensors atomically, in the layout the safetensors library produces: data ordered by
// element size (largest first) then by name, so every tensor is aligned; the header padded with
// spaces to a multiple of 8 bytes. Names must be unique and non-empty.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace graft
