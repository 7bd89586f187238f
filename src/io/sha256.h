#pragma once
// SHA-256 (FIPS 180-4), written here because the library links no crypto library; the Hub
// names LFS blobs by the sha256 of their content, so every download is checked against it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace graft {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  std::string hex_digest();  // finishes the hash; call once

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> block_{};
  size_t block_used_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view data);
std::string sha256_file_hex(const std::string& path);  // throws graft::Error when unreadable

}  // namespace graft
