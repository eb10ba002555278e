#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/expected.hpp"

namespace relay::api {

// One local client of the OpenAPI forwarder: a name (for logs and metrics) and its key.
struct ClientKey {
  std::string name;
  std::string key;
};

inline constexpr std::size_t k_min_key_length = 32;

// The clients file ([api] clients_file): one client per line, `name key`; blank lines and lines starting with
// `#` are ignored. A name is 1 to 64 of A-Z a-z 0-9 . _ -; a key is at least 32 printable ASCII characters
// without spaces. Names and keys must be unique. Errors read "path:line: why" and never quote a key.
util::Expected<std::vector<ClientKey>, std::string> parse_client_keys(std::string_view text,
                                                                      std::string_view path_for_messages);
util::Expected<std::vector<ClientKey>, std::string> read_client_keys(const std::string& path);

// A new key: 32 random bytes, base64url without padding (43 characters).
std::string generate_client_key();

}  // namespace relay::api
