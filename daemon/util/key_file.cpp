#include "util/key_file.hpp"

#include <cstdint>
#include <fstream>
#include <iterator>

namespace relay::util {
namespace {

constexpr std::string_view k_z85_alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

}  // namespace

bool is_z85_key(std::string_view text) {
  if (text.size() != 40) {
    return false;
  }
  // Each group of 5 characters is a base-85 number that must fit in 32 bits.
  for (std::size_t group = 0; group < text.size(); group += 5) {
    std::uint64_t value = 0;
    for (std::size_t i = group; i < group + 5; ++i) {
      const auto digit = k_z85_alphabet.find(text[i]);
      if (digit == std::string_view::npos) {
        return false;
      }
      value = value * 85 + digit;
    }
    if (value > 0xFFFFFFFFu) {
      return false;
    }
  }
  return true;
}

Expected<std::vector<std::string>, std::string> parse_key_file(std::string_view text, std::string_view path) {
  std::vector<std::string> keys;
  for (int number = 1; !text.empty(); ++number) {
    const auto newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    const auto start = line.find_first_not_of(" \t\r");
    if (start == std::string_view::npos) {
      continue;
    }
    const auto end = line.find_first_of(" \t\r", start);
    const std::string_view key = line.substr(start, end == std::string_view::npos ? line.npos : end - start);
    // '#' is a Z85 digit too, but too large to begin a key (the first group would not fit 32 bits).
    if (line[start] == '#') {
      continue;
    }
    if (!is_z85_key(key)) {
      return Unexpected(std::string(path) + ":" + std::to_string(number) +
                        ": not a CURVE key (40 characters of Z85)");
    }
    keys.emplace_back(key);
  }
  return keys;
}

Expected<std::vector<std::string>, std::string> read_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Unexpected(path + ": cannot read");
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_key_file(text, path);
}

}  // namespace relay::util
