#include "graft/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "graft/core/error.h"
#include "graft/core/json.h"
#include "graft/io/file.h"

namespace graft {
namespace {

constexpr size_t kLengthPrefixBytes = 8;
// The safetensors library refuses larger headers; a bigger value means a corrupt length prefix.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

constexpr DType kSupportedDTypes[] = {DType::F32, DType::F16, DType::BF16, DType::I64,
                                      DType::I32, DType::U8,  DType::I8};

bool is_floating(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

// The safetensors library orders data by its dtype enum, largest first: I64, F32, I32, BF16, F16, I8, U8.
int layout_rank(DType dtype) {
  switch (dtype) {
    case DType::I64: return 0;
    case DType::F32: return 1;
    case DType::I32: return 2;
    case DType::BF16: return 3;
    case DType::F16: return 4;
    case DType::I8: return 5;
    case DType::U8: return 6;
  }
  return 7;
}

class Mapping {
 public:
  Mapping(void* address, size_t size) : address_(address), size_(size) {}
  ~Mapping() { ::munmap(address_, size_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const char* bytes() const { return static_cast<const char*>(address_); }

 private:
  void* address_;
  size_t size_;
};

std::shared_ptr<const Mapping> map_file(const std::string& path, size_t& size) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  check(descriptor >= 0, "safetensors", path + ": cannot open: " + std::strerror(errno));
  struct stat status {};
  if (::fstat(descriptor, &status) != 0 || !S_ISREG(status.st_mode)) {
    ::close(descriptor);
    throw Error("[safetensors] " + path + ": not a regular file");
  }
  size = static_cast<size_t>(status.st_size);
  if (size < kLengthPrefixBytes) {
    ::close(descriptor);
    throw Error("[safetensors] " + path + ": file is " + std::to_string(size) +
                " bytes, too short for the 8-byte header length");
  }
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, descriptor, 0);
  const int map_errno = errno;
  ::close(descriptor);
  check(address != MAP_FAILED, "safetensors", path + ": cannot map: " + std::strerror(map_errno));
  return std::make_shared<const Mapping>(address, size);
}

uint64_t read_le64(const char* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

struct HeaderParser {
  const std::string& path;
  size_t data_size;

  [[noreturn]] void fail(const std::string& message) const { throw Error("[safetensors] " + path + ": " + message); }

  DType parse_dtype(const std::string& name, const nlohmann::json& value) const {
    if (!value.is_string()) fail("tensor '" + name + "': \"dtype\" must be a string");
    const std::string text = value.get<std::string>();
    for (DType dtype : kSupportedDTypes) {
      if (dtype_name(dtype) == text) return dtype;
    }
    fail("tensor '" + name + "' has unsupported dtype \"" + text + "\" (graft reads F32, F16, BF16, I64, I32, U8, I8)");
  }

  std::vector<uint64_t> parse_unsigned_list(const std::string& name, const char* field,
                                            const nlohmann::json& value) const {
    if (!value.is_array()) fail("tensor '" + name + "': \"" + field + "\" must be a list of integers");
    std::vector<uint64_t> numbers;
    for (const auto& item : value) {
      if (!item.is_number_unsigned()) {
        fail("tensor '" + name + "': \"" + field + "\" must hold non-negative integers, got " + item.dump());
      }
      numbers.push_back(item.get<uint64_t>());
    }
    return numbers;
  }

  // Bytes the shape needs; fails instead of overflowing on absurd shapes.
  uint64_t byte_count(const std::string& name, const std::vector<uint64_t>& extents, DType dtype) const {
    uint64_t bytes = dtype_size(dtype);
    for (uint64_t extent : extents) {
      if (__builtin_mul_overflow(bytes, extent, &bytes)) fail("tensor '" + name + "': shape is too large");
    }
    return bytes;
  }
};

std::string offsets_string(uint64_t begin, uint64_t end) {
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) about "[" + std::to_string(...).
  std::string text(1, '[');
  text += std::to_string(begin);
  text += ", ";
  text += std::to_string(end);
  text += ')';
  return text;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  size_t file_size = 0;
  auto mapping = map_file(path, file_size);
  const uint64_t header_length = read_le64(mapping->bytes());
  check(header_length <= file_size - kLengthPrefixBytes, "safetensors",
        path + ": header length " + std::to_string(header_length) + " exceeds file size " + std::to_string(file_size));
  check(header_length <= kMaxHeaderBytes, "safetensors",
        path + ": header length " + std::to_string(header_length) + " is larger than the 100 MB safetensors allows");

  const nlohmann::json header = parse_json(std::string_view(mapping->bytes() + kLengthPrefixBytes, header_length),
                                           "safetensors", path, "header is not valid JSON");
  check(header.is_object(), "safetensors", path + ": header is not a JSON object");

  SafetensorsFile file;
  file.path_ = path;
  file.data_area_ = mapping->bytes() + kLengthPrefixBytes + header_length;
  const HeaderParser parser{path, static_cast<size_t>(file_size - kLengthPrefixBytes - header_length)};

  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) parser.fail("\"__metadata__\" must be an object of strings");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) parser.fail("\"__metadata__\" value of \"" + key + "\" is not a string");
        file.metadata_[key] = text.get<std::string>();
      }
      continue;
    }
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets")) {
      parser.fail("tensor '" + name + "' must be an object with \"dtype\", \"shape\" and \"data_offsets\"");
    }
    const DType dtype = parser.parse_dtype(name, value["dtype"]);
    const auto extents = parser.parse_unsigned_list(name, "shape", value["shape"]);
    const auto offsets = parser.parse_unsigned_list(name, "data_offsets", value["data_offsets"]);
    if (offsets.size() != 2 || offsets[0] > offsets[1]) {
      parser.fail("tensor '" + name + "': \"data_offsets\" must be [begin, end] with begin <= end, got " +
                  value["data_offsets"].dump());
    }
    if (offsets[1] > parser.data_size) {
      parser.fail("tensor '" + name + "': data_offsets " + offsets_string(offsets[0], offsets[1]) +
                  " lie outside the data area of " + std::to_string(parser.data_size) + " bytes");
    }
    const uint64_t needed = parser.byte_count(name, extents, dtype);
    Shape shape(extents.begin(), extents.end());
    if (offsets[1] - offsets[0] != needed) {
      parser.fail("tensor '" + name + "': data_offsets " + offsets_string(offsets[0], offsets[1]) + " hold " +
                  std::to_string(offsets[1] - offsets[0]) + " bytes but shape " + shape_string(shape) + " of " +
                  std::string(dtype_name(dtype)) + " needs " + std::to_string(needed));
    }
    file.entries_[name] = Entry{Info{dtype, std::move(shape)}, offsets[0], offsets[1]};
  }

  // As the reference implementation requires: sorted by start, the tensors tile the data area exactly, each
  // starting where the previous one ends. A gap or bytes left over mean a wrong offset or header length, with
  // every tensor read shifted.
  uint64_t covered = 0;
  std::string previous_name;
  for (const std::string& name : file.names()) {
    const Entry& current = file.entries_.at(name);
    const std::string where = "'" + name + "' " + offsets_string(current.begin, current.end);
    if (current.begin < covered) {
      const Entry& previous = file.entries_.at(previous_name);
      parser.fail("tensors '" + previous_name + "' " + offsets_string(previous.begin, previous.end) + " and " + where +
                  " overlap");
    }
    if (current.begin > covered) {
      parser.fail("tensor " + where + " starts " + std::to_string(current.begin - covered) + " bytes after " +
                  (previous_name.empty() ? "the data area begins" : "'" + previous_name + "' ends") +
                  " (tensors must cover the data area without gaps)");
    }
    covered = current.end;
    previous_name = name;
  }
  if (covered != parser.data_size) {
    parser.fail("the tensors cover " + std::to_string(covered) + " bytes of a data area of " +
                std::to_string(parser.data_size) + " (is the header length right?)");
  }
  file.mapping_ = std::move(mapping);
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> result;
  result.reserve(entries_.size());
  for (const auto& [name, unused] : entries_) result.push_back(name);
  std::stable_sort(result.begin(), result.end(), [this](const std::string& a, const std::string& b) {
    const Entry& left = entries_.at(a);
    const Entry& right = entries_.at(b);
    return left.begin != right.begin ? left.begin < right.begin : left.end < right.end;
  });
  return result;
}

const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
  const auto found = entries_.find(name);
  if (found == entries_.end()) throw Error("[safetensors] " + path_ + ": tensor '" + name + "' not found");
  return found->second;
}

SafetensorsFile::Info SafetensorsFile::info(const std::string& name) const {
  return entry(name).info;
}

Tensor SafetensorsFile::view(const std::string& name) const {
  const Entry& found = entry(name);
  const char* data = data_area_ + found.begin;
  if (reinterpret_cast<uintptr_t>(data) % dtype_size(found.info.dtype) == 0) {
    return Tensor::view_of(mapping_, data, found.info.shape, found.info.dtype);
  }
  Tensor copy = Tensor::empty(found.info.shape, found.info.dtype);
  if (copy.nbytes() > 0) std::memcpy(copy.raw_data(), data, copy.nbytes());
  return copy;
}

Tensor SafetensorsFile::load(const std::string& name, DType as) const {
  const Info& stored = entry(name).info;
  check(!(is_floating(stored.dtype) && !is_floating(as)), "safetensors",
        path_ + ": tensor '" + name + "' is " + std::string(dtype_name(stored.dtype)) + " and cannot be loaded as " +
            std::string(dtype_name(as)));
  return view(name).to(as);
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<const std::pair<std::string, Tensor>*> ordered;
  for (const auto& item : tensors) {
    check(!item.first.empty() && item.first != "__metadata__", "safetensors",
          path + ": invalid tensor name '" + item.first + "'");
    check(item.second.defined(), "safetensors", path + ": tensor '" + item.first + "' is undefined");
    ordered.push_back(&item);
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    const int rank_a = layout_rank(a->second.dtype());
    const int rank_b = layout_rank(b->second.dtype());
    return rank_a != rank_b ? rank_a < rank_b : a->first < b->first;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto* item : ordered) {
    const Tensor& tensor = item->second;
    check(!header.contains(item->first), "safetensors", path + ": duplicate tensor name '" + item->first + "'");
    header[item->first] = {{"dtype", dtype_name(tensor.dtype())},
                           {"shape", tensor.shape()},
                           {"data_offsets", {offset, offset + tensor.nbytes()}}};
    offset += tensor.nbytes();
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  char length_prefix[kLengthPrefixBytes];
  for (size_t i = 0; i < kLengthPrefixBytes; ++i)
    length_prefix[i] = static_cast<char>((header_text.size() >> (8 * i)) & 0xff);
  AtomicFileWriter writer(path);
  writer.write(length_prefix, sizeof length_prefix);
  writer.write(header_text);
  for (const auto* item : ordered) writer.write(item->second.raw_data(), item->second.nbytes());
  writer.commit();
}

}  // namespace graft
