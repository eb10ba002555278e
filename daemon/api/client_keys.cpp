#include "api/client_keys.hpp"

#include <sodium.h>

#include <fstream>
#include <stdexcept>
#include <unordered_set>

#include <fmt/format.h>

namespace relay::api {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (const char c : name) {
    if (!is_name_char(c)) {
      return false;
    }
  }
  return true;
}

bool valid_key(std::string_view key) {
  if (key.size() < k_min_key_length) {
    return false;
  }
  for (const char c : key) {
    if (c <= ' ' || c > '~') {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

}  // namespace

util::Expected<std::vector<ClientKey>, std::string> parse_client_keys(std::string_view text,
                                                                      std::string_view path_for_messages) {
  std::vector<ClientKey> clients;
  std::unordered_set<std::string> names;
  std::unordered_set<std::string> keys;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto end = text.find('\n');
    const std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const auto fail = [&](std::string_view why) {
      return util::Unexpected(fmt::format("{}:{}: {}", path_for_messages, line_number, why));
    };
    const auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      return fail("expected `name key`, found one word");
    }
    const std::string_view name = line.substr(0, space);
    const std::string_view key = trim(line.substr(space));
    // A name as long as a key may be one (the columns swapped): errors then name the line only.
    const std::string client = name.size() < k_min_key_length ? fmt::format("client {}", name) : "the client";
    if (!valid_name(name)) {
      return fail("a client name is 1 to 64 of A-Z a-z 0-9 . _ -");
    }
    if (key.find_first_of(" \t") != std::string_view::npos) {
      return fail(fmt::format("{}: expected `name key`, found more after the key", client));
    }
    if (!valid_key(key)) {
      return fail(
          fmt::format("{}: a key is at least {} printable characters without spaces "
                      "(`qq-gateway-relay api-key NAME` makes one)",
                      client, k_min_key_length));
    }
    if (!names.emplace(name).second) {
      return fail(fmt::format("{} is listed twice", client));
    }
    if (!keys.emplace(key).second) {
      return fail(fmt::format("{} has the same key as an earlier client", client));
    }
    clients.push_back({std::string(name), std::string(key)});
  }
  return clients;
}

util::Expected<std::vector<ClientKey>, std::string> read_client_keys(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return util::Unexpected(fmt::format("{}: cannot be read", path));
  }
  // A clients file is a few lines; anything much larger is a mistake (the wrong file), not worth reading.
  constexpr std::size_t k_max_bytes = 1 << 20;
  std::string text(k_max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > k_max_bytes) {
    return util::Unexpected(fmt::format("{}: larger than 1 MiB, not a clients file", path));
  }
  return parse_client_keys(text, path);
}

std::string generate_client_key() {
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium cannot be initialised");
  }
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof(bytes));
  char text[sodium_base64_ENCODED_LEN(sizeof(bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof(text), bytes, sizeof(bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(bytes, sizeof(bytes));
  return text;
}

}  // namespace relay::api
