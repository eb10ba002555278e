#include "websocket/mask.hpp"

#include <cstdint>
#include <cstring>

namespace relay::websocket {

std::size_t apply_mask(char* data, std::size_t size, const MaskKey& key, std::size_t phase) {
  // The key rotated to `phase` and repeated over eight bytes: byte i of the payload is XORed with
  // rotated[i % 8]. Words are loaded and stored with memcpy, so neither alignment nor byte order matters.
  unsigned char rotated[8];
  for (std::size_t i = 0; i < sizeof rotated; ++i) {
    rotated[i] = key[(phase + i) & 3];
  }
  std::uint64_t word_key;
  std::memcpy(&word_key, rotated, sizeof word_key);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, data + i, sizeof word);
    word ^= word_key;
    std::memcpy(data + i, &word, sizeof word);
  }
  for (; i < size; ++i) {
    data[i] = static_cast<char>(static_cast<unsigned char>(data[i]) ^ rotated[i & 7]);
  }
  return (phase + size) & 3;
}

}  // namespace relay::websocket
