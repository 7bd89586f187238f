#include "graft/core/random.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>
#include <string>

#include "graft/core/error.h"
#include "graft/core/parallel.h"

namespace graft {
namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53U;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57U;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9U;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85U;
constexpr int kPhiloxRounds = 10;

// Vigna's SplitMix64 finaliser: spreads every bit of a fork's stream id over the whole new key.
uint64_t splitmix64(uint64_t value) {
  value += 0x9E3779B97F4A7C15ULL;
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

PhiloxCounter philox_round(const PhiloxCounter& counter, const PhiloxKey& key) {
  const uint64_t product0 = static_cast<uint64_t>(kPhiloxM0) * counter[0];
  const uint64_t product1 = static_cast<uint64_t>(kPhiloxM1) * counter[2];
  return {static_cast<uint32_t>(product1 >> 32) ^ counter[1] ^ key[0], static_cast<uint32_t>(product1),
          static_cast<uint32_t>(product0 >> 32) ^ counter[3] ^ key[1], static_cast<uint32_t>(product0)};
}

PhiloxKey split_key(uint64_t key) {
  return {static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32)};
}

PhiloxCounter block_counter(uint64_t index) {
  return {static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0, 0};
}

constexpr size_t kStateWords = 5;
constexpr int kBlockWords = 4;

}  // namespace

PhiloxCounter philox4x32_10(PhiloxCounter counter, PhiloxKey key) {
  for (int round = 0; round < kPhiloxRounds; ++round) {
    if (round > 0) {
      key[0] += kPhiloxW0;
      key[1] += kPhiloxW1;
    }
    counter = philox_round(counter, key);
  }
  return counter;
}

Generator::Generator(uint64_t seed) : key_(seed) {}

void Generator::refill() {
  block_ = philox4x32_10(block_counter(counter_), split_key(key_));
  ++counter_;
  position_ = 0;
}

uint32_t Generator::next_u32() {
  if (position_ == kBlockWords) refill();
  return block_[position_++];
}

uint64_t Generator::next_u64() {
  const uint64_t low = next_u32();
  return low | (static_cast<uint64_t>(next_u32()) << 32);
}

void Generator::fill_u32(uint32_t* words, int64_t count) {
  int64_t i = 0;
  while (i < count && position_ < kBlockWords) words[i++] = block_[position_++];
  const PhiloxKey key = split_key(key_);
  for (; i + kBlockWords <= count; i += kBlockWords) {
    const PhiloxCounter block = philox4x32_10(block_counter(counter_++), key);
    std::copy(block.begin(), block.end(), words + i);
  }
  while (i < count) words[i++] = next_u32();  // a block begun: its rest stays for the next draws
}

void Generator::discard(int64_t count) {
  check(count >= 0, "random", "cannot discard " + std::to_string(count) + " words");
  for (; count > 0 && position_ < kBlockWords; --count) ++position_;
  counter_ += static_cast<uint64_t>(count / kBlockWords);
  if (count % kBlockWords == 0) return;
  refill();
  position_ = static_cast<int>(count % kBlockWords);
}

float Generator::uniform() {
  return uniform_from(next_u32());
}

float Generator::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  // u1 in (0, 1] keeps log finite.
  const double u1 = (static_cast<double>(next_u32()) + 1.0) * 0x1p-32;
  const double u2 = static_cast<double>(next_u32()) * 0x1p-32;
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = static_cast<float>(radius * std::sin(angle));
  has_spare_normal_ = true;
  return static_cast<float>(radius * std::cos(angle));
}

bool Generator::bernoulli(float probability) {
  return uniform() < probability;
}

Generator Generator::fork(uint64_t stream) const {
  return Generator(splitmix64(splitmix64(key_) ^ stream));
}

std::vector<uint64_t> Generator::state() const {
  return {key_, counter_, static_cast<uint64_t>(position_), has_spare_normal_ ? 1U : 0U,
          std::bit_cast<uint32_t>(spare_normal_)};
}

void Generator::set_state(const std::vector<uint64_t>& state) {
  check(state.size() == kStateWords, "random",
        "generator state has " + std::to_string(state.size()) + " words, expected " + std::to_string(kStateWords));
  const uint64_t position = state[2];
  check(position <= kBlockWords && (position == kBlockWords || state[1] > 0), "random",
        "generator state has an invalid block position " + std::to_string(position));
  check(state[3] <= 1 && state[4] <= UINT32_MAX, "random", "generator state has an invalid spare normal");
  key_ = state[0];
  counter_ = state[1];
  position_ = static_cast<int>(position);
  if (position_ < kBlockWords) block_ = philox4x32_10(block_counter(counter_ - 1), split_key(key_));
  has_spare_normal_ = state[3] == 1;
  spare_normal_ = std::bit_cast<float>(static_cast<uint32_t>(state[4]));
}

void init_normal(Tensor& tensor, float std, Generator& generator) {
  check(std >= 0.0f, "init_normal", "standard deviation must be >= 0, got " + std::to_string(std));
  parallel_draw(tensor.data<float>(), tensor.numel(), generator,
                [std](Generator& stream) { return std * stream.normal(); });
}

}  // namespace graft
