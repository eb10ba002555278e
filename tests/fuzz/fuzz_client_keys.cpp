// The [api] clients file (api.clients_file, read from disk at start and on SIGHUP): no crash; what it accepts
// follows the documented rules (names 1 to 64 of A-Z a-z 0-9 . _ -, keys of at least 32 printable ASCII
// characters, names and keys unique); an error names "path:line:" and never quotes a key (nothing of 32 or
// more bytes from the input appears in it).
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "api/client_keys.hpp"
#include "fuzz_check.hpp"

namespace {

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool valid_key(std::string_view key) {
  if (key.size() < relay::api::k_min_key_length) {
    return false;
  }
  for (const char c : key) {
    if (c <= ' ' || c > '~') {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = relay::api::parse_client_keys(text, "clients");
  if (!parsed) {
    const std::string& error = parsed.error();
    FUZZ_CHECK(error.starts_with("clients:"));
    // No word of the input long enough to be a key (keys hold no white space) appears in the message.
    relay::fuzz::for_each_word(text, [&](std::string_view word) {
      FUZZ_CHECK(word.size() < relay::api::k_min_key_length || error.find(word) == std::string::npos);
    });
    return 0;
  }
  std::set<std::string> names;
  std::set<std::string> keys;
  for (const auto& client : *parsed) {
    FUZZ_CHECK(valid_name(client.name));
    FUZZ_CHECK(valid_key(client.key));
    FUZZ_CHECK(names.insert(client.name).second);
    FUZZ_CHECK(keys.insert(client.key).second);
    FUZZ_CHECK(text.find(client.key) != std::string_view::npos);
  }
  return 0;
}
